"""Stale answers (RFC 5861) and upstream protection: stale-if-error,
stale-while-revalidate, the circuit breaker, the connect retry."""

import time

import pytest

from harness import TODOS, free_port, wait_for

KEY = "todos:v1:/todos/1"


def entry_age_past(redis, seconds):
    """Waits until the stored entry is older than seconds."""
    def old_enough():
        head = redis.cli("GET", KEY).split("\n\n", 1)[0]
        t = int(dict(l.split("=", 1) for l in head.split("\n"))["t"])
        return time.time() * 1000 - t > seconds * 1000
    wait_for(old_enough, seconds + 5, f"the entry to be {seconds}s old")


@pytest.fixture
def stale_service(make_service):
    """Fresh for 1 s, then stale-if-error for 60 s, no revalidate window."""
    return make_service(CACHE_TTL=1, STALE_WHILE_REVALIDATE=0, STALE_TTL=60,
                        UPSTREAM_TIMEOUT_MS=800)


# fwd-status: what the upstream answered; none when it never answered.
@pytest.mark.parametrize("fault,fwd_status,detail", [
    ({"mode": "status", "status": 500}, "; fwd-status=500", "upstream-error"),
    ({"mode": "status", "status": 503}, "; fwd-status=503", "upstream-error"),
    ({"mode": "invalid_json"}, "; fwd-status=200", "upstream-error"),
    ({"mode": "reset"}, "", "upstream-error"),
    ({"mode": "hang"}, "", "upstream-timeout"),
])
def test_stale_if_error(stale_service, upstream, redis, fault, fwd_status, detail):
    s = stale_service
    fresh = s.get("/get_todos/1")
    assert fresh.headers["x-cache"] == "MISS"
    entry_age_past(redis, 2)
    upstream.fault(path="/todos/1", **fault)
    r = s.get("/get_todos/1")
    assert r.status == 200, r
    assert r.body == fresh.body
    assert r.headers["x-cache"] == "STALE"
    assert int(r.headers["age"]) > 1  # older than max-age
    assert r.headers["cache-control"] == "max-age=1, stale-if-error=60"
    assert r.headers["etag"] == fresh.headers["etag"]
    # ttl: freshness left, negative when stale (max-age 1 - Age).
    assert r.headers["cache-status"] == \
        f"todos-fcgi; fwd=stale{fwd_status}; ttl={1 - int(r.headers['age'])}; detail={detail}"
    # The failure did not replace the stale copy; the upstream coming back does.
    upstream.reset()
    again = s.get("/get_todos/1")
    assert again.headers["x-cache"] == "MISS"
    assert again.headers["cache-status"] == "todos-fcgi; fwd=stale; fwd-status=200; stored; ttl=1"
    assert s.get("/get_todos/1").headers["x-cache"] == "HIT"


def test_stale_copy_gone_after_stale_ttl(make_service, upstream, redis):
    s = make_service(CACHE_TTL=1, STALE_WHILE_REVALIDATE=0, STALE_TTL=1)
    s.get("/get_todos/1")
    assert 1000 < int(redis.cli("PTTL", KEY)) <= 2000
    wait_for(lambda: redis.cli("EXISTS", KEY) == "0", 5, "the entry to go")
    upstream.fault(path="/todos/1", mode="status", status=500)
    assert s.get("/get_todos/1").status == 502


def test_stale_while_revalidate_answers_at_once_and_refreshes(make_service, upstream, redis):
    s = make_service(CACHE_TTL=1, STALE_WHILE_REVALIDATE=30, STALE_TTL=60)
    first = s.get("/get_todos/1")
    entry_age_past(redis, 1.2)
    upstream.fault(path="/todos/1", mode="delay", delay_ms=600)
    start = time.monotonic()
    r = s.get("/get_todos/1")
    took = time.monotonic() - start
    assert r.status == 200 and r.body == first.body
    assert r.headers["x-cache"] == "STALE"
    assert r.headers["cache-status"] == \
        f"todos-fcgi; hit; ttl={1 - int(r.headers['age'])}; detail=stale-while-revalidate"
    assert r.headers["cache-control"] == \
        "max-age=1, stale-while-revalidate=30, stale-if-error=60"
    assert took < 0.3, took  # not waiting for the 600 ms upstream
    # The refresh runs after the answer; then the entry is fresh again.
    wait_for(lambda: upstream.count("/todos/1") == 2, 5, "the background refresh")
    wait_for(lambda: s.get("/get_todos/1").headers["x-cache"] == "HIT", 3,
             "the refreshed entry")
    assert upstream.count("/todos/1") == 2


def test_revalidation_failure_keeps_serving_stale(make_service, upstream, redis):
    s = make_service(CACHE_TTL=1, STALE_WHILE_REVALIDATE=30, STALE_TTL=60)
    s.get("/get_todos/1")
    entry_age_past(redis, 1.2)
    upstream.fault(path="/todos/1", mode="status", status=500)
    for _ in range(3):
        r = s.get("/get_todos/1")
        assert r.status == 200 and r.headers["x-cache"] == "STALE"
        assert r.json() == TODOS[0]


def test_circuit_breaker_opens_serves_503_then_probes(make_service, upstream):
    s = make_service(CIRCUIT_FAILURES=3, CIRCUIT_COOLDOWN_MS=1000, FCGI_PROCS=1)
    upstream.fault(path="*", mode="status", status=500)
    for i in range(3):
        assert s.get(f"/get_todos/{10 + i}").status == 502
    assert upstream.count() == 3
    r = s.get("/get_todos/20")
    assert r.status == 503
    assert r.headers["retry-after"] == "1"
    assert r.json() == {"error": r.json()["error"], "status": 503}
    assert r.headers["cache-status"] == "todos-fcgi; fwd=uri-miss; detail=circuit-open"
    assert upstream.count() == 3  # not called while open
    time.sleep(1.1)
    upstream.reset()
    probe = s.get("/get_todos/20")
    assert probe.status == 200 and probe.headers["x-cache"] == "MISS"
    assert s.get("/get_todos/21").status == 200  # closed again
    assert upstream.count() == 2


def test_circuit_open_serves_stale(make_service, upstream, redis):
    s = make_service(CACHE_TTL=1, STALE_WHILE_REVALIDATE=0, STALE_TTL=60,
                     CIRCUIT_FAILURES=2, CIRCUIT_COOLDOWN_MS=5000, FCGI_PROCS=1)
    s.get("/get_todos/1")
    entry_age_past(redis, 1.2)
    upstream.fault(path="*", mode="status", status=500)
    for i in range(2):
        assert s.get(f"/get_todos/{30 + i}").status == 502
    r = s.get("/get_todos/1")
    assert r.status == 200 and r.headers["x-cache"] == "STALE"
    assert r.headers["cache-status"] == \
        f"todos-fcgi; fwd=stale; ttl={1 - int(r.headers['age'])}; detail=circuit-open"
    assert upstream.count("/todos/1") == 1


def test_connect_failure_is_retried_once(make_service):
    s = make_service(UPSTREAM_URL=f"http://127.0.0.1:{free_port()}", LOG_LEVEL="debug")
    assert s.get("/get_todos/1").status == 502
    assert s.output().count("connect failed, trying once more") == 1


@pytest.mark.parametrize("fault,status", [({"mode": "reset"}, 502), ({"mode": "hang"}, 504),
                                          ({"mode": "status", "status": 503}, 502)])
def test_no_retry_once_the_request_was_sent(make_service, upstream, fault, status):
    s = make_service(UPSTREAM_TIMEOUT_MS=600)
    upstream.fault(path="/todos/2", **fault)
    assert s.get("/get_todos/2").status == status
    assert upstream.count("/todos/2") == 1


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_not_followed(service, upstream, status):
    upstream.fault(path="/todos/2", mode="status", status=status)
    assert service.get("/get_todos/2").status == 502
    assert upstream.count() == 1
