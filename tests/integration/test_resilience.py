"""Whatever happens behind lighttpd, the client gets a JSON answer: a
responder killed in the middle of a request, the local demo upstream."""

import json
import os
import signal
import subprocess
import threading
import time

from harness import RUN, TODOS, Service, http_request, wait_for


def test_responder_killed_mid_request_is_a_json_error_then_service_recovers(
        make_service, upstream):
    s = make_service(UPSTREAM_TIMEOUT_MS=5000)
    upstream.fault(path="/todos/3", mode="hang")
    result = {}

    def slow():
        result["r"] = s.get("/get_todos/3")

    t = threading.Thread(target=slow)
    t.start()
    wait_for(lambda: upstream.count("/todos/3") == 1, 5, "the request to reach the upstream")
    for pid in s.responder_pids():
        os.kill(pid, signal.SIGKILL)
    t.join(10)
    r = result["r"]
    assert r.status in (500, 502, 503), r  # lighttpd says 500
    assert r.headers["content-type"] == "application/json"
    assert json.loads(r.body)["status"] == r.status
    upstream.reset()
    # lighttpd respawns the responders; the service answers again.
    wait_for(lambda: s.get("/get_todos/3").status == 200, 10, "the service to recover",
             interval=0.2)
    assert s.get("/get_todos/3").json() == TODOS[2]


def test_demo_serves_the_local_upstream_with_its_latency(tmp_path):
    s = Service(tmp_path, DEMO_LATENCY_MS="150-200", REDIS_URL=None, UPSTREAM_URL=None)
    proc = subprocess.Popen([RUN, "--demo"], env=s.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        s.proc = proc
        wait_for(s.listening, 20, "the demo to listen")
        start = time.monotonic()
        miss = http_request(s.port, "GET", "/get_todos/12")
        took = time.monotonic() - start
        assert miss.status == 200 and miss.headers["x-cache"] == "MISS"
        assert took >= 0.15, took
        hit = http_request(s.port, "GET", "/get_todos/12")
        assert hit.headers["x-cache"] == "HIT"
        assert hit.json() == TODOS[11]
        with open(os.path.join(s.rundir, "upstream.port")) as f:
            upstream_port = int(f.read())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    # The local upstream went with it.
    try:
        http_request(upstream_port, "GET", "/todos/1", timeout=2)
        raise AssertionError("the demo upstream is still running")
    except ConnectionRefusedError:
        pass
