"""Apache and nginx in front of the todos-fcgi daemon (apache/run,
nginx/run): the cache answers come through unchanged (MISS then HIT,
gzip, 304), the purge's Authorization header reaches the responder, the
front's own errors are JSON when the daemon is gone, SIGTERM stops all
the script started, and (nginx) connections nginx keeps idle never make
a new request wait for a daemon worker.
"""

import gzip
import http.client
import os
import signal
import threading
import time

import pytest

from harness import (TODOS, Service, children, free_port, http_request, pid_alive, tcp_accepts,
                     wait_for)

TOKEN = "front-test-token-0123456789"
PROXIED = ("apache", "nginx")


@pytest.fixture(scope="module", params=PROXIED)
def front(request, make_service):
    return make_service(front=request.param, PURGE_TOKEN=TOKEN)


def json_error(r, statuses):
    assert r.status in statuses, r
    assert r.headers["content-type"] == "application/json", r
    assert r.json()["status"] == r.status, r


def test_miss_then_hit(front, upstream):
    a = front.get("/get_todos/11")
    b = front.get("/get_todos/11")
    assert (a.status, a.headers["x-cache"]) == (200, "MISS"), a
    assert (b.status, b.headers["x-cache"]) == (200, "HIT"), b
    assert a.json() == b.json() == TODOS[10]
    assert int(b.headers["content-length"]) == len(b.body)
    assert upstream.count("/todos/11") == 1


def test_purge_with_bearer_token_reaches_the_responder(front, upstream):
    front.get("/get_todos/12")
    refused = front.get("/get_todos/12", method="DELETE",
                        headers={"Authorization": "Bearer wrong-token-0123456789"})
    assert refused.status == 401, refused
    assert refused.headers["www-authenticate"].startswith("Bearer")
    r = front.get("/get_todos/12", method="DELETE",
                  headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status == 200, r
    assert r.json() == {"purged": True}
    assert front.get("/get_todos/12").headers["x-cache"] == "MISS"
    assert upstream.count("/todos/12") == 2


def test_if_none_match_is_304(front):
    etag = front.get("/get_todos/13").headers["etag"]
    r = front.get("/get_todos/13", headers={"If-None-Match": etag})
    assert r.status == 304, r
    assert r.body == b""
    assert r.headers["etag"] == etag


def test_gzip_form_passes_through_uncompressed_by_the_front(front):
    plain = front.get("/get_todos", headers={"Accept-Encoding": "gzip"})
    assert plain.status == 200 and "content-encoding" not in plain.headers  # the MISS
    r = wait_for(lambda: (lambda r: r.headers.get("content-encoding") == "gzip" and r)(
        front.get("/get_todos", headers={"Accept-Encoding": "gzip"})), 10, "the gzip form")
    assert r.headers["etag"].endswith('-gz"')
    assert int(r.headers["content-length"]) == len(r.body)
    assert gzip.decompress(r.body) == plain.body
    # Without Accept-Encoding the front does not compress on its own.
    assert "content-encoding" not in front.get("/get_todos").headers


def all_pids(s):
    """The script's children, the front's and the daemon's."""
    pids = set(children(s.proc.pid))
    for parent in (s.front_pid(), s.daemon_pid()):
        pids.add(parent)
        pids.update(children(parent))
    return sorted(p for p in pids if pid_alive(p))


@pytest.mark.parametrize("name", PROXIED)
def test_daemon_stopped_front_answers_json(make_service, name):
    s = make_service(front=name)
    assert s.get("/get_todos/1").status == 200
    daemon = s.daemon_pid()
    workers = children(daemon)
    os.kill(daemon, signal.SIGTERM)  # graceful: its workers finish and exit
    wait_for(lambda: not any(pid_alive(p) for p in [daemon, *workers]), 10,
             "the daemon and its workers to stop")
    for path in ("/get_todos/1", "/get_todos", "/nope"):
        json_error(s.get(path), (502, 503))
    assert pid_alive(s.front_pid())


@pytest.mark.parametrize("name", PROXIED)
def test_sigterm_stops_everything_started(make_service, name):
    s = make_service(front=name, REDIS_URL=None)
    assert s.get("/get_todos/1").status == 200
    everything = all_pids(s)
    assert s.front_pid() in everything and s.daemon_pid() in everything
    assert len(children(s.daemon_pid())) == int(s.env["FCGI_PROCS"])
    os.kill(s.proc.pid, signal.SIGTERM)
    wait_for(lambda: s.proc.poll() is not None and not any(map(pid_alive, everything)),
             15, f"the script and {everything} to stop")
    assert s.proc.returncode == 128 + signal.SIGTERM, s.output()
    for f in ("daemon.pid", f"{name}.pid"):
        assert not os.path.exists(os.path.join(s.rundir, f))


@pytest.mark.parametrize("name", PROXIED)
def test_fcgi_port_puts_the_daemon_on_loopback_tcp(make_service, upstream, name):
    """TCP is the explicit choice (FCGI_PORT); the default is a unix socket."""
    port = free_port()
    s = make_service(front=name, FCGI_PORT=port)
    a = s.get("/get_todos/14")
    b = s.get("/get_todos/14")
    assert (a.headers["x-cache"], b.headers["x-cache"]) == ("MISS", "HIT"), (a, b)
    assert upstream.count("/todos/14") == 1
    assert tcp_accepts(port)
    assert f"responders on 127.0.0.1:{port}," in s.output()


def test_nginx_idle_kept_connections_never_make_requests_wait(make_service, upstream):
    """nginx keeps up to NGINX_KEEPALIVE idle FastCGI connections, each
    holding a thread of a daemon worker; with FCGI_PROCS x FCGI_THREADS
    above that (here one process of 12 threads), new requests find a free
    thread while more client connections than that sit idle."""
    s = make_service(front="nginx", NGINX_WORKERS=1, NGINX_KEEPALIVE=8, FCGI_PROCS=1,
                     FCGI_THREADS=12)
    assert s.get("/get_todos/1").status == 200
    upstream.fault(mode="delay", delay_ms=300)
    clients = [http.client.HTTPConnection("127.0.0.1", s.port, timeout=10) for _ in range(12)]
    statuses = []

    def use(i):
        # Concurrent misses: nginx opens 12 FastCGI connections, keeps 8.
        clients[i].request("GET", f"/get_todos/{100 + i}")
        r = clients[i].getresponse()
        r.read()
        statuses.append(r.status)

    threads = [threading.Thread(target=use, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 12
    upstream.reset()
    try:
        # The 12 client connections stay open and idle; a burst of new ones.
        times, results = [], []

        def burst(i):
            t0 = time.monotonic()
            r = http_request(s.port, "GET", f"/get_todos/{100 + i % 12}", timeout=5)
            times.append(time.monotonic() - t0)
            results.append(r.status)

        threads = [threading.Thread(target=burst, args=(i,)) for i in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200] * 24
        assert max(times) < 1.0, sorted(times)
    finally:
        for c in clients:
            c.close()


def test_nginx_refuses_fewer_workers_than_kept_connections(tmp_path, redis, upstream):
    s = Service(tmp_path, front="nginx", REDIS_URL=redis.url, UPSTREAM_URL=upstream.url,
                NGINX_WORKERS=2, NGINX_KEEPALIVE=4, FCGI_PROCS=2, FCGI_THREADS=4)
    s.start(wait=False)
    try:
        assert s.proc.wait(timeout=10) == 78
    finally:
        s.stop()
    lines = [line for line in s.output().splitlines() if line.strip()]
    assert lines == ["nginx/run: FCGI_PROCS x FCGI_THREADS (2 x 4) must exceed NGINX_KEEPALIVE x "
                     "NGINX_WORKERS (8): each kept connection holds a thread"], lines
    assert not os.path.exists(os.path.join(s.rundir, "daemon.pid"))
