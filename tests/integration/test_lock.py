"""The fill lock belongs to its token (docs: the fill protocol).

A fill whose lock expired while it fetched (a slow upstream past the lock's
lifetime, a paused process) must not delete the lock that another owner
took since: its release compares the token and deletes only its own.
"""

import threading

from harness import TODOS, wait_for

LOCK = "todos:v1:lock:/todos/5"
FOREIGN = "another-owners-token"


def test_release_leaves_a_lock_it_does_not_own(make_service, upstream, redis):
    s = make_service(FCGI_PROCS=1, UPSTREAM_TIMEOUT_MS=3000)
    upstream.fault(path="/todos/5", mode="delay", delay_ms=800)
    got = {}
    t = threading.Thread(target=lambda: got.update(r=s.get("/get_todos/5")))
    t.start()
    wait_for(lambda: upstream.count("/todos/5") == 1, 5, "the fill to start")
    # The owner's lock "expired" and another fill took the key.
    token = redis.cli("GET", LOCK)
    assert token and token != FOREIGN
    redis.cli("SET", LOCK, FOREIGN, "PX", "60000")
    t.join(10)
    assert got["r"].status == 200 and got["r"].json() == TODOS[4]
    assert got["r"].headers["x-cache"] == "MISS"
    # Its release ran (the answer is out) and compared the token.
    assert redis.cli("GET", LOCK) == FOREIGN
    assert int(redis.cli("PTTL", LOCK)) > 50000


def test_release_deletes_its_own_lock(make_service, upstream, redis):
    s = make_service(FCGI_PROCS=1)
    upstream.fault(path="/todos/5", mode="delay", delay_ms=300)
    t = threading.Thread(target=lambda: s.get("/get_todos/5"))
    t.start()
    wait_for(lambda: upstream.count("/todos/5") == 1, 5, "the fill to start")
    assert redis.cli("EXISTS", LOCK) == "1"
    t.join(10)
    assert redis.cli("EXISTS", LOCK) == "0"
