"""/health, /metrics and the access log."""

import datetime
import re
import socket
import threading

import pytest

from harness import TODOS, free_port, wait_for


def scrape(s):
    r = s.get("/metrics")
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert r.headers["cache-control"] == "no-store"
    values = {}
    for line in r.body.decode().splitlines():
        if line.startswith("#") or not line:
            continue
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    return values


def delta(after, before, name):
    return after.get(name, 0) - before.get(name, 0)


def test_health_ok_then_degraded_when_redis_is_down(make_service, redis):
    s = make_service()
    r = s.get("/health")
    assert r.status == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {"status": "ok", "redis": "up", "upstream": "ok",
                        "upstream_failures": 0, "upstream_last_failure": None}
    assert r.headers["cache-control"] == "no-store"
    assert s.get("/health?x=1").json()["status"] == "ok"
    head = s.get("/health", method="HEAD")
    assert head.status == 200 and head.body == b""
    redis.stop()
    try:
        r = s.get("/health")
        assert r.status == 200
        assert r.json() == {"status": "degraded", "redis": "down", "upstream": "ok",
                            "upstream_failures": 0, "upstream_last_failure": None}
    finally:
        redis.start()
    wait_for(lambda: s.get("/health").json()["status"] == "ok", 6, "health to recover",
             interval=0.2)


class Forwarder:
    """Listens on port only once open() is called (until then a connect
    is refused: the upstream is unreachable), then forwards to target."""

    def __init__(self, port, target):
        self.port, self.target = port, target
        self.listener = None

    def open(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        if self.listener is not None:
            self.listener.close()

    def _accept(self):
        while True:
            try:
                a, _ = self.listener.accept()
            except OSError:
                return
            b = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            b.settimeout(None)
            for src, dst in ((a, b), (b, a)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def test_health_reports_a_failing_upstream_until_a_fetch_succeeds(make_service, upstream):
    fwd = Forwarder(free_port(), upstream.port)
    # Two responders: whichever answers /health knows what the other saw.
    s = make_service(UPSTREAM_URL=f"http://127.0.0.1:{fwd.port}", FCGI_PROCS=2)
    try:
        assert s.get("/health").json()["upstream"] == "ok"
        before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        assert s.get("/get_todos/1").status == 502
        after = datetime.datetime.now(datetime.timezone.utc)
        for _ in range(6):
            r = s.get("/health")
            assert r.status == 200
            h = r.json()
            assert {k: h[k] for k in ("status", "redis", "upstream", "upstream_failures")} == {
                "status": "degraded", "redis": "up", "upstream": "failing",
                "upstream_failures": 1}, h
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", h["upstream_last_failure"]), h
            when = datetime.datetime.strptime(h["upstream_last_failure"], "%Y-%m-%dT%H:%M:%SZ")
            assert before <= when.replace(tzinfo=datetime.timezone.utc) <= after, (before, h, after)
        assert s.get("/get_todos/2").status == 502
        assert s.get("/health").json()["upstream_failures"] == 2
        fwd.open()
        r = s.get("/get_todos/1")
        assert r.status == 200 and r.json() == TODOS[0]
        for _ in range(6):
            h = s.get("/health").json()
            assert {k: h[k] for k in ("status", "upstream", "upstream_failures")} == {
                "status": "ok", "upstream": "ok", "upstream_failures": 0}, h
            # The last failure's time stays, for whoever looks later.
            assert h["upstream_last_failure"] is not None
    finally:
        fwd.close()


def test_health_and_metrics_take_get_and_head_only(service):
    for path in ("/health", "/metrics"):
        r = service.get(path, method="POST", body=b"{}")
        assert r.status == 405 and r.headers["allow"] == "GET, HEAD"
    assert service.get("/healthz").status == 404


def test_metrics_are_exact_totals_across_responders(make_service, upstream):
    s = make_service(FCGI_PROCS=2)
    s.get("/get_todos/1")  # the MISS
    before = scrape(s)
    for _ in range(40):
        assert s.get("/get_todos/1").headers["x-cache"] == "HIT"
    after = scrape(s)
    hits = 'todos_requests_total{route="todo",status="200",cache="HIT"}'
    assert delta(after, before, hits) == 40
    assert len(s.responder_pids()) == 2
    # Scrapes count too, in their own series.
    assert delta(after, before, 'todos_requests_total{route="metrics",status="200",cache="none"}') == 1


def test_metrics_count_upstream_errors_purges_and_waits(make_service, upstream, redis):
    token = "metrics-token-0123456789"
    s = make_service(PURGE_TOKEN=token)
    before = scrape(s)
    s.get("/get_todos/2")
    upstream.fault(path="/todos/3", mode="status", status=500)
    assert s.get("/get_todos/3").status == 502
    assert s.get("/get_todos/2", method="DELETE",
                 headers={"Authorization": f"Bearer {token}"}).status == 200
    assert s.get("/nope").status == 404
    after = scrape(s)
    assert delta(after, before, 'todos_upstream_requests_total{outcome="ok"}') == 1
    assert delta(after, before, 'todos_upstream_requests_total{outcome="error"}') == 1
    assert delta(after, before, "todos_upstream_duration_seconds_count") == 2
    assert delta(after, before, 'todos_upstream_duration_seconds_bucket{le="+Inf"}') == 2
    assert delta(after, before, "todos_purges_total") == 1
    assert delta(after, before, 'todos_requests_total{route="todo",status="502",cache="none"}') == 1
    assert delta(after, before, 'todos_requests_total{route="other",status="404",cache="none"}') == 1
    redis.stop()
    try:
        assert s.get("/get_todos/4").headers["x-cache"] == "BYPASS"
    finally:
        redis.start()
    assert delta(scrape(s), after, "todos_redis_errors_total") >= 1


def test_metrics_are_never_cached(service, redis):
    service.get("/metrics")
    service.get("/health")
    assert redis.cli("KEYS", "*") == ""


def test_access_log_line_per_request_without_secrets(make_service):
    token = "access-token-0123456789"
    s = make_service(LOG_LEVEL="info", PURGE_TOKEN=token)
    s.get("/get_todos/5?utm=x")
    s.get("/get_todos/5")
    s.get("/get_todos/5", method="DELETE", headers={"Authorization": f"Bearer {token}"})
    wait_for(lambda: s.output().count("access ") >= 3, 5, "the access lines")
    lines = [l for l in s.output().splitlines() if " access " in l]
    assert re.search(r"access method=GET path=/get_todos/5\?utm=x status=200 cache=MISS "
                     r"upstream_ms=\d+ total_ms=[\d.]+$", lines[0]), lines[0]
    assert "cache=HIT upstream_ms=0" in lines[1]
    assert "method=DELETE" in lines[2] and "status=200" in lines[2]
    assert token not in s.output()
    assert "Authorization" not in s.output() and "Bearer" not in s.output()
