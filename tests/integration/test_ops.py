"""/health, /metrics and the access log."""

import re

import pytest

from harness import wait_for


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
    assert r.json() == {"status": "ok", "redis": "up", "upstream": "ok"}
    assert r.headers["cache-control"] == "no-store"
    assert s.get("/health?x=1").json()["status"] == "ok"
    head = s.get("/health", method="HEAD")
    assert head.status == 200 and head.body == b""
    redis.stop()
    try:
        r = s.get("/health")
        assert r.status == 200
        assert r.json() == {"status": "degraded", "redis": "down", "upstream": "ok"}
    finally:
        redis.start()
    wait_for(lambda: s.get("/health").json()["status"] == "ok", 6, "health to recover",
             interval=0.2)


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
