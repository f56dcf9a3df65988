"""The cache against a real Redis: MISS then HIT, TTL, namespacing, and a
Redis that stops, freezes or errors while the service keeps answering."""

import signal
import time

import pytest

from harness import TODOS, Redis, wait_for

KEY = "todos:v1:/todos/1"


@pytest.fixture(scope="module")
def pids(service):
    """The responder processes as first seen; the last test checks them."""
    return service.responder_pids()


def get(service, path="/get_todos/1"):
    r = service.get(path)
    assert r.status == 200, r
    return r


def test_miss_then_hit_with_one_upstream_fetch_per_key(service, upstream, pids):
    assert len(pids) == 2
    first = get(service)
    assert first.headers["x-cache"] == "MISS"
    assert first.headers["age"] == "0"
    assert first.headers["cache-control"] == "max-age=60, stale-while-revalidate=30, stale-if-error=3600"
    for _ in range(10):
        hit = get(service)
        assert hit.headers["x-cache"] == "HIT"
        assert hit.body == first.body
    get(service, "/get_todos")
    assert get(service, "/get_todos").headers["x-cache"] == "HIT"
    assert upstream.stats()["requests"] == {"/todos/1": 1, "/todos": 1}


def test_age_counts_up_and_max_age_down(service):
    get(service)
    time.sleep(2.1)
    hit = get(service)
    age = int(hit.headers["age"])
    assert 2 <= age <= 3
    # max-age is the lifetime; a client's freshness left is max-age - Age.
    assert hit.headers["cache-control"] == \
        "max-age=60, stale-while-revalidate=30, stale-if-error=3600"
    assert hit.headers["cache-status"] == f"todos-fcgi; hit; ttl={60 - age}"


def test_entry_is_stored_with_ttl_and_stored_at(service, redis):
    before = int(time.time() * 1000)
    body = get(service).body
    stored = redis.cli("GET", KEY)
    head, _, rest = stored.partition("\n\n")
    fields = dict(line.split("=", 1) for line in head.split("\n"))
    assert fields["ttl"] == "60" and fields["s"] == "200"
    assert fields["etag"] == get(service).headers["etag"]
    assert before - 1000 <= int(fields["t"]) <= int(time.time() * 1000) + 1000
    assert rest.encode() == body
    # Kept STALE_TTL (3600 s) past its 60 s of freshness.
    assert 3655 <= int(redis.cli("TTL", KEY)) <= 3660


def test_ttl_expiry_misses_again(make_service, upstream, redis):
    s = make_service(CACHE_TTL=1, STALE_TTL=0, STALE_WHILE_REVALIDATE=0)
    assert get(s).headers["x-cache"] == "MISS"
    assert get(s).headers["x-cache"] == "HIT"
    wait_for(lambda: redis.cli("EXISTS", KEY) == "0", 5, "the key to expire")
    again = get(s)
    assert again.headers["x-cache"] == "MISS"
    assert again.json() == TODOS[0]
    assert upstream.count("/todos/1") == 2


def test_cache_prefix_namespaces_keys(make_service, redis):
    s = make_service(CACHE_PREFIX="other:v9:")
    get(s)
    assert redis.cli("KEYS", "*") == "other:v9:/todos/1"


def test_corrupt_entry_is_refetched_and_replaced(service, upstream, redis):
    redis.cli("SET", KEY, "garbage without a head")
    r = get(service)
    assert r.headers["x-cache"] == "MISS"
    assert r.json() == TODOS[0]
    assert get(service).headers["x-cache"] == "HIT"
    assert upstream.count("/todos/1") == 1


def test_wrong_type_key_is_bypassed_then_repaired(service, redis):
    redis.cli("HSET", KEY, "a", "b")
    r = get(service)
    assert r.headers["x-cache"] == "BYPASS"
    # Only the read failed: the answer was stored, so it has a ttl.
    assert r.headers["cache-status"] == \
        "todos-fcgi; fwd=bypass; fwd-status=200; stored; ttl=60; detail=redis-error"
    assert r.json() == TODOS[0]
    assert get(service).headers["x-cache"] == "HIT"


def test_redis_refusing_writes_still_answers(service, redis):
    redis.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")
    redis.cli("CONFIG", "SET", "maxmemory", "1")
    try:
        for _ in range(3):
            r = get(service)
            # The fill lock cannot be written either: Redis is erroring.
            assert r.headers["x-cache"] == "BYPASS"
            # Nothing stored: no ttl (RFC 9211: freshness of a stored copy).
            assert r.headers["cache-status"] == \
                "todos-fcgi; fwd=bypass; fwd-status=200; detail=redis-error"
            assert r.json() == TODOS[0]
    finally:
        redis.cli("CONFIG", "SET", "maxmemory", "0")
    get(service)
    assert get(service).headers["x-cache"] == "HIT"


def test_redis_stopped_is_bypass_then_caching_resumes(service, upstream, redis):
    get(service)
    redis.stop()
    for _ in range(6):
        r = get(service)
        assert r.headers["x-cache"] == "BYPASS"
        assert r.headers["cache-status"] == \
            "todos-fcgi; fwd=bypass; fwd-status=200; detail=redis-down"
        assert r.json() == TODOS[0]
        assert r.headers["cache-control"] == "max-age=60, stale-while-revalidate=30, stale-if-error=3600"
    assert upstream.count("/todos/1") == 7
    redis.start()
    # The back-off is at most 2 s; then the next request fills again.
    wait_for(lambda: get(service).headers["x-cache"] != "BYPASS", 6,
             "caching to resume", interval=0.1)
    assert get(service).headers["x-cache"] == "HIT"


def test_redis_killed_hard_is_bypass(service, redis):
    get(service)
    redis.stop(signal.SIGKILL)
    assert get(service).headers["x-cache"] == "BYPASS"
    redis.start()
    wait_for(lambda: get(service).headers["x-cache"] == "HIT", 8, "a HIT again",
             interval=0.1)


@pytest.mark.parametrize("unix", [False, True], ids=["tcp", "unix-socket"])
def test_redis_restart_costs_no_bypass(make_service, tmp_path, unix):
    r = Redis(tmp_path, unix=unix).start()
    try:
        s = make_service(REDIS_URL=r.url, FCGI_PROCS=1)
        assert get(s).headers["x-cache"] == "MISS"
        assert get(s).headers["x-cache"] == "HIT"
        r.stop()
        r.start()
        # The idle connection is dead; it is remade at once, not after a
        # BYPASS and a back-off (the new Redis is empty: a MISS).
        assert get(s).headers["x-cache"] == "MISS"
        assert get(s).headers["x-cache"] == "HIT"
    finally:
        r.stop()


def test_frozen_redis_costs_at_most_the_timeout_and_backs_off(make_service, redis):
    s = make_service(REDIS_TIMEOUT_MS=200, FCGI_PROCS=1)
    get(s)
    before = int(redis.info("total_connections_received"))
    redis.proc.send_signal(signal.SIGSTOP)
    try:
        answered, slowest = 0, 0.0
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            start = time.monotonic()
            r = get(s)
            slowest = max(slowest, time.monotonic() - start)
            assert r.headers["x-cache"] == "BYPASS"
            assert r.json() == TODOS[0]
            answered += 1
    finally:
        redis.proc.send_signal(signal.SIGCONT)
    # No request waits much past REDIS_TIMEOUT_MS (connect or command).
    assert slowest < 0.2 * 2 + 0.5, slowest
    # Connects to a frozen Redis still succeed (the kernel's backlog), so
    # Redis counts every attempt once it runs again: with back-off
    # (100 ms doubling, 200 ms timeout) that is 3 in 2 s, not one per
    # request.  The INFO call itself is one more connection.
    time.sleep(0.2)
    attempts = int(redis.info("total_connections_received")) - before - 1
    print("frozen redis:", answered, "answers,", attempts, "connects, slowest", slowest)
    assert answered >= 10, answered
    assert attempts <= 4, (attempts, answered)
    wait_for(lambda: get(s).headers["x-cache"] == "HIT", 8, "a HIT again", interval=0.1)


def test_redis_url_with_database_and_password(make_service, redis):
    redis.cli("CONFIG", "SET", "requirepass", "s3cret")
    try:
        s = make_service(REDIS_URL=f"redis://:s3cret@127.0.0.1:{redis.port}/3")
        assert get(s).headers["x-cache"] == "MISS"
        assert get(s).headers["x-cache"] == "HIT"
        keys = redis.cli("-a", "s3cret", "--no-auth-warning", "-n", "3", "KEYS", "*")
        assert keys == KEY
        assert "s3cret" not in s.output()
    finally:
        redis.cli("-a", "s3cret", "--no-auth-warning", "CONFIG", "SET", "requirepass", "")


def test_wrong_password_is_bypass(make_service, redis):
    redis.cli("CONFIG", "SET", "requirepass", "right")
    try:
        s = make_service(REDIS_URL=f"redis://:wrong@127.0.0.1:{redis.port}/0")
        r = get(s)
        assert r.headers["x-cache"] == "BYPASS"
        assert "wrong" not in s.output().replace("wrong_password", "")
    finally:
        redis.cli("-a", "right", "--no-auth-warning", "CONFIG", "SET", "requirepass", "")


def test_same_responder_processes_survived_everything(service, pids):
    assert service.responder_pids() == pids
    assert get(service).json() == TODOS[0]
    assert service.responder_pids() == pids
