"""Each upstream fault and the status it becomes; nothing failed is cached."""

import time

import pytest

from harness import TODOS, free_port

TIMEOUT_MS = 1500   # conftest's UPSTREAM_TIMEOUT_MS
MAX_BYTES = 65536   # conftest's UPSTREAM_MAX_BYTES


def assert_error(r, status):
    assert r.status == status, r
    assert r.headers["content-type"] == "application/json"
    assert r.json()["status"] == status


def assert_not_cached_and_recovers(service, upstream, redis, path="/get_todos/1"):
    key = "todos:v1:" + path.replace("/get_todos", "/todos")
    assert redis.cli("EXISTS", key) == "0"
    upstream.reset()
    r = service.get(path)
    assert r.status == 200 and r.headers["x-cache"] == "MISS", r


@pytest.mark.parametrize("status", [500, 502, 503, 400, 403, 429, 301, 302])
def test_upstream_error_status_is_502(service, upstream, redis, status):
    upstream.fault(path="/todos/1", mode="status", status=status)
    assert_error(service.get("/get_todos/1"), 502)
    assert_not_cached_and_recovers(service, upstream, redis)


def test_upstream_404_is_404_and_cached_negatively(service, upstream, redis):
    upstream.fault(path="/todos/1", mode="status", status=404)
    first = service.get("/get_todos/1")
    assert_error(first, 404)
    assert first.headers["x-cache"] == "MISS"
    assert first.headers["cache-control"] == "max-age=10"  # NEGATIVE_TTL
    upstream.reset()
    again = service.get("/get_todos/1")
    assert_error(again, 404)
    assert again.headers["x-cache"] == "HIT"
    assert upstream.count() == 0
    assert 1 <= int(redis.cli("PTTL", "todos:v1:/todos/1")) <= 10000


def test_invalid_json_is_502(service, upstream, redis):
    upstream.fault(path="/todos/1", mode="invalid_json")
    assert_error(service.get("/get_todos/1"), 502)
    assert_not_cached_and_recovers(service, upstream, redis)


def test_connection_reset_is_502(service, upstream, redis):
    upstream.fault(path="/todos/1", mode="reset")
    assert_error(service.get("/get_todos/1"), 502)
    assert_not_cached_and_recovers(service, upstream, redis)


def test_hang_is_504_after_the_timeout(service, upstream, redis):
    upstream.fault(path="/todos/1", mode="hang")
    start = time.monotonic()
    r = service.get("/get_todos/1")
    took = time.monotonic() - start
    assert_error(r, 504)
    assert TIMEOUT_MS / 1000 - 0.05 <= took < TIMEOUT_MS / 1000 + 3, took
    assert_not_cached_and_recovers(service, upstream, redis)


def test_slow_but_in_time_is_served(service, upstream):
    upstream.fault(path="/todos/2", mode="delay", delay_ms=400)
    start = time.monotonic()
    r = service.get("/get_todos/2")
    assert time.monotonic() - start >= 0.4
    assert r.status == 200 and r.headers["x-cache"] == "MISS"
    assert r.json() == TODOS[1]


@pytest.mark.parametrize("chunked", [False, True])
def test_body_over_the_limit_is_502(service, upstream, redis, chunked):
    upstream.fault(path="/todos", mode="oversize", bytes=MAX_BYTES + 1, chunked=chunked)
    assert_error(service.get("/get_todos"), 502)
    assert_not_cached_and_recovers(service, upstream, redis, "/get_todos")


@pytest.mark.parametrize("chunked", [False, True])
def test_body_exactly_at_the_limit_is_served(service, upstream, chunked):
    upstream.fault(path="/todos", mode="oversize", bytes=MAX_BYTES, chunked=chunked)
    r = service.get("/get_todos")
    assert r.status == 200, r
    assert isinstance(r.json(), list)


def test_huge_body_is_aborted_early(service, upstream):
    # 200 MB streamed: answering fast means the transfer was cut at the limit.
    upstream.fault(path="/todos", mode="oversize", bytes=200_000_000, chunked=True)
    start = time.monotonic()
    assert_error(service.get("/get_todos"), 502)
    assert time.monotonic() - start < 5


def test_refused_connection_is_502(make_service, redis):
    s = make_service(UPSTREAM_URL=f"http://127.0.0.1:{free_port()}")
    assert_error(s.get("/get_todos/1"), 502)
    assert redis.cli("EXISTS", "todos:v1:/todos/1") == "0"


def test_dns_failure_is_502(make_service):
    s = make_service(UPSTREAM_URL="http://no-such-host.invalid")
    assert_error(s.get("/get_todos/1"), 502)


def test_misses_reuse_the_upstream_connection(service, upstream):
    for todo_id in range(20, 40):
        assert service.get(f"/get_todos/{todo_id}").status == 200
    stats = upstream.stats()
    assert stats["total"] == 20
    # one kept-alive connection per responder process (FCGI_PROCS=2)
    assert stats["connections"] <= 2, stats
