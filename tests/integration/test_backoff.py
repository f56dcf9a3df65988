"""Redis's reconnect back-off (cache.c): doubles from 100 ms per failed
attempt up to 2 s, and is back to 100 ms as soon as Redis answers.

One responder process with one thread and no in-process cache, so every
request asks Redis and the back-off seen is the one process's.  The
timings are wide apart (100 ms against 2 s, 2 s against 6 s): a loaded
machine cannot blur them.
"""

import time

from harness import TODOS

KEY = "/get_todos/1"


def xcache(s):
    r = s.get(KEY)
    assert r.status == 200 and r.json() == TODOS[0], r
    return r.headers["x-cache"]


def outage(s, seconds):
    """Requests every 50 ms for seconds while Redis is down: all BYPASS."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert xcache(s) == "BYPASS"
        time.sleep(0.05)


def resumed_after(s, since, limit):
    """Seconds from since until a request is not BYPASS (at most limit)."""
    while time.monotonic() - since < limit:
        if xcache(s) != "BYPASS":
            return time.monotonic() - since
        time.sleep(0.05)
    raise AssertionError(f"still BYPASS {limit} s after Redis came back")


def test_backoff_is_capped_and_resets_when_redis_answers(make_service, redis):
    s = make_service(FCGI_PROCS=1, FCGI_THREADS=1, LOCAL_CACHE_BYTES=0)
    assert xcache(s) == "MISS"

    # 7 s down: attempts at 0, .1, .3, .7, 1.5, 3.1, 5.1 s (then every
    # 2 s).  Uncapped, the wait after 3.1 s would be 3.2 s, then 6.4 s.
    redis.stop()
    outage(s, 7.0)
    redis.start()
    back = time.monotonic()
    assert resumed_after(s, back, 4.0) < 2.5

    # Redis answered: the next failure waits 100 ms, not the 2 s reached.
    redis.stop()
    assert xcache(s) == "BYPASS"
    failed = time.monotonic()
    redis.start()
    time.sleep(max(0.0, failed + 0.8 - time.monotonic()))
    assert time.monotonic() - failed < 1.9, "redis-server took too long to restart"
    assert xcache(s) != "BYPASS"
