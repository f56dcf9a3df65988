"""The in-process cache: hits without a Redis round trip, kept coherent by
Redis client tracking across fronts, off while its channel is down."""

import time

from harness import TODOS, wait_for

KEY = "todos:v1:/todos/1"


def gets(redis):
    """GET and MGET calls Redis has served so far."""
    stats = redis.cli("INFO", "commandstats")
    total = 0
    for line in stats.splitlines():
        if line.startswith(("cmdstat_get:", "cmdstat_mget:")):
            total += int(line.split("calls=", 1)[1].split(",", 1)[0])
    return total


def warm(s, path="/get_todos/1", procs=2, redis=None):
    """Enough requests that the key is kept in process.  A copy read just
    after the fill's own SET is refused when that SET's invalidation
    reaches the channel after the read began (the copy might be older
    than Redis); so, given redis, ask until 5 answers in a row made no GET
    (at most 40 requests)."""
    for _ in range(procs * 4):
        assert s.get(path).status == 200
    if redis is None:
        return
    streak, last = 0, gets(redis)
    for _ in range(40):
        assert s.get(path).status == 200
        now = gets(redis)
        streak = streak + 1 if now == last else 0
        last = now
        if streak == 5:
            return
    raise AssertionError(f"{path}: still read from Redis after 40 warm requests")


def test_hits_are_served_in_process(make_service, redis):
    s = make_service(FCGI_PROCS=1)
    assert s.get("/get_todos/1").headers["x-cache"] == "MISS"
    warm(s, procs=1, redis=redis)
    before = gets(redis)
    for _ in range(50):
        r = s.get("/get_todos/1")
        assert r.status == 200 and r.headers["x-cache"] == "HIT"
        assert r.json() == TODOS[0]
    assert gets(redis) == before  # not one GET for 50 hits


def test_a_purge_on_one_front_reaches_the_other_in_process_copy(make_service, redis):
    token = "purge-token-0123456789"
    a = make_service(PURGE_TOKEN=token, FCGI_PROCS=1)
    b = make_service(PURGE_TOKEN=token, FCGI_PROCS=1)
    a.get("/get_todos/1")
    warm(b, procs=1, redis=redis)
    before = gets(redis)
    assert b.get("/get_todos/1").headers["x-cache"] == "HIT"
    assert gets(redis) == before  # b holds it in process
    r = a.get("/get_todos/1", method="DELETE",
              headers={"Authorization": f"Bearer {token}"})
    assert r.json() == {"purged": True}
    time.sleep(0.01)
    assert b.get("/get_todos/1").headers["x-cache"] == "MISS"


def test_a_change_in_redis_reaches_the_in_process_copy(make_service, redis):
    s = make_service(FCGI_PROCS=1)
    s.get("/get_todos/2")
    warm(s, "/get_todos/2", procs=1, redis=redis)
    stored = redis.cli("GET", "todos:v1:/todos/2")
    head, body = stored.split("\n\n", 1)
    changed = head + "\n\n" + body.replace('"completed":false', '"completed":"changed"')
    assert changed != stored
    redis.cli("SET", "todos:v1:/todos/2", changed, "PX", "60000")
    time.sleep(0.01)
    assert s.get("/get_todos/2").json()["completed"] == "changed"


def test_channel_loss_empties_and_bypasses_the_in_process_cache(make_service, redis):
    s = make_service(FCGI_PROCS=1)
    s.get("/get_todos/3")
    warm(s, "/get_todos/3", procs=1, redis=redis)
    before = gets(redis)
    s.get("/get_todos/3")
    assert gets(redis) == before
    # Cut the invalidation channel; change the key while it is down.
    redis.cli("CLIENT", "KILL", "TYPE", "pubsub")
    stored = redis.cli("GET", "todos:v1:/todos/3")
    redis.cli("SET", "todos:v1:/todos/3",
              stored.replace('"completed":false', '"completed":"while-down"'), "PX", "60000")
    r = s.get("/get_todos/3")
    assert r.json()["completed"] == "while-down"  # not the old in-process copy
    # The channel comes back by itself; then hits are in process again.
    wait_for(lambda: "cmd=subscribe" in redis.cli("CLIENT", "LIST"), 5,
             "the channel to come back", interval=0.1)
    warm(s, "/get_todos/3", procs=1, redis=redis)
    before = gets(redis)
    assert s.get("/get_todos/3").json()["completed"] == "while-down"
    assert gets(redis) == before


def test_in_process_copy_is_never_fresher_than_its_entry(make_service, redis):
    s = make_service(FCGI_PROCS=1, CACHE_TTL=1, STALE_WHILE_REVALIDATE=30)
    s.get("/get_todos/4")
    warm(s, "/get_todos/4", procs=1)
    time.sleep(1.2)
    r = s.get("/get_todos/4")
    assert r.headers["x-cache"] == "STALE"  # from Redis, not a local HIT


def test_in_process_cache_is_bounded(make_service, redis):
    s = make_service(FCGI_PROCS=1, LOCAL_CACHE_BYTES=4096)
    s.get("/get_todos")
    warm(s, "/get_todos", procs=1)
    before = gets(redis)
    s.get("/get_todos")  # 18 KB: more than a quarter of 4 KB, never kept
    assert gets(redis) == before + 1


def test_local_cache_off(make_service, redis):
    s = make_service(FCGI_PROCS=1, LOCAL_CACHE_BYTES=0)
    s.get("/get_todos/5")
    before = gets(redis)
    for _ in range(5):
        assert s.get("/get_todos/5").headers["x-cache"] == "HIT"
    assert gets(redis) == before + 5
