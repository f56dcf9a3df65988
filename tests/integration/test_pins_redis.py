"""Pins of the Redis side, each the exact value a user relies on: a
connection Redis closed (a restart, CLIENT KILL) is remade at once, on TCP
and on a unix socket, so it costs no BYPASS and counts no Redis error; a
connection that Redis does not track keeps nothing in process; FLUSHALL
empties the in-process cache.  Each of
these once let a planted bug (tests/mutate/mutants) pass every test."""

import time

import pytest

from harness import Redis, TODOS


def scrape(s):
    r = s.get("/metrics")
    assert r.status == 200, r
    values = {}
    for line in r.body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def assert_hit(r, todo):
    assert r.status == 200 and r.json() == todo, r
    assert r.headers["x-cache"] == "HIT", r
    age = int(r.headers["age"])
    assert r.headers["cache-status"] == f"todos-fcgi; hit; ttl={60 - age}", r


@pytest.mark.parametrize("unix", [False, True], ids=["tcp", "unix"])
def test_a_connection_redis_closed_is_remade_without_a_bypass(make_service, upstream,
                                                              tmp_path, unix):
    r = Redis(tmp_path, unix=unix).start()
    try:
        # One request thread, no in-process copies: every GET is this
        # thread's Redis connection.
        s = make_service(REDIS_URL=r.url, FCGI_PROCS=1, FCGI_THREADS=1,
                         BACKGROUND_THREADS=1, LOCAL_CACHE_BYTES=0)
        assert s.get("/get_todos/1").headers["x-cache"] == "MISS"
        assert_hit(s.get("/get_todos/1"), TODOS[0])
        before = scrape(s)
        for _ in range(3):
            assert int(r.cli("CLIENT", "KILL", "TYPE", "normal")) >= 1
            assert_hit(s.get("/get_todos/1"), TODOS[0])
        after = scrape(s)
        assert after["todos_redis_errors_total"] - before["todos_redis_errors_total"] == 0
        hits = 'todos_requests_total{route="todo",status="200",cache="HIT"}'
        assert after[hits] - before[hits] == 3
        assert upstream.count("/todos/1") == 1
        s.stop()
    finally:
        r.stop()


def test_without_client_tracking_nothing_is_kept_in_process(make_service, upstream, tmp_path):
    # CLIENT TRACKING refused (here by an ACL; Redis 5 does not have it):
    # the in-process cache must keep nothing, or a DEL would go unseen.
    r = Redis(tmp_path).start()
    try:
        assert r.cli("ACL", "SETUSER", "default", "-client|tracking") == "OK"
        s = make_service(REDIS_URL=r.url, FCGI_PROCS=1, FCGI_THREADS=1)
        assert s.get("/get_todos/1").headers["x-cache"] == "MISS"
        assert_hit(s.get("/get_todos/1"), TODOS[0])
        assert_hit(s.get("/get_todos/1"), TODOS[0])
        assert r.cli("DEL", "todos:v1:/todos/1") == "1"
        again = s.get("/get_todos/1")
        assert again.status == 200 and again.headers["x-cache"] == "MISS", again
        assert upstream.count("/todos/1") == 2
        assert "CLIENT TRACKING refused: in-process cache off" in s.output()
        s.stop()
    finally:
        r.stop()


def get_calls(redis):
    for line in redis.cli("INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_get:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


def test_flushall_empties_the_in_process_cache(make_service, upstream, redis):
    s = make_service(FCGI_PROCS=1, FCGI_THREADS=1)
    assert s.get("/get_todos/2").headers["x-cache"] == "MISS"
    # Read from Redis and kept (once the tracking channel is up), then
    # served in process: no GET reaches Redis.
    deadline = time.monotonic() + 5
    while True:
        calls = get_calls(redis)
        assert_hit(s.get("/get_todos/2"), TODOS[1])
        if get_calls(redis) == calls:
            break
        assert time.monotonic() < deadline, "never served in process"
        time.sleep(0.05)
    assert redis.cli("FLUSHALL") == "OK"
    # The invalidation (a null key list) comes over the tracking channel.
    deadline = time.monotonic() + 5
    while (r := s.get("/get_todos/2")).headers["x-cache"] == "HIT":
        assert time.monotonic() < deadline, "still served in process after FLUSHALL"
        time.sleep(0.05)
    assert r.status == 200 and r.headers["x-cache"] == "MISS", r
    assert upstream.count("/todos/2") == 2
