"""Pins of the fill and the upstream, each the exact value a user relies on:
a 404 is cached for NEGATIVE_TTL (not CACHE_TTL), counts as an upstream
success (the breaker, /metrics, /health), reaches the threads that waited
for its fetch; a 2xx other than 200 is no representation; a refused
connect is tried once more.  Each of these once let a planted bug (a
mutant of tests/mutate/mutants) pass every test."""

import json
import threading
import time

from harness import TODOS, free_port, http_request

NOT_FOUND = {"error": "not found", "status": 404}


def scrape(s):
    r = s.get("/metrics")
    assert r.status == 200, r
    values = {}
    for line in r.body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def delta(after, before, name):
    return after.get(name, 0) - before.get(name, 0)


def burst(port, path, n):
    """n concurrent GETs; their responses."""
    results = [None] * n
    go = threading.Event()

    def one(i):
        go.wait()
        results[i] = http_request(port, "GET", path, timeout=30)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(60)
    return results


def test_a_404_is_cached_for_negative_ttl_not_cache_ttl(make_service, upstream, redis):
    s = make_service(CACHE_TTL=60, NEGATIVE_TTL=7, FCGI_PROCS=1)
    miss = s.get("/get_todos/999")
    assert miss.status == 404 and miss.json() == NOT_FOUND, miss
    assert miss.headers["x-cache"] == "MISS"
    assert miss.headers["cache-control"] == "max-age=7"
    assert miss.headers["cache-status"] == "todos-fcgi; fwd=uri-miss; fwd-status=404; stored; ttl=7"
    assert miss.headers["age"] == "0"
    head = redis.cli_bytes("GET", "todos:v1:/todos/999").split(b"\n\n")[0].split(b"\n")
    assert b"ttl=7" in head and b"s=404" in head, head
    assert 0 < int(redis.cli("PTTL", "todos:v1:/todos/999")) <= 7000
    hit = s.get("/get_todos/999")
    assert hit.status == 404 and hit.json() == NOT_FOUND, hit
    assert hit.headers["x-cache"] == "HIT"
    age = int(hit.headers["age"])
    assert age <= 1
    assert hit.headers["cache-control"] == "max-age=7"
    assert hit.headers["cache-status"] == f"todos-fcgi; hit; ttl={7 - age}"
    assert upstream.count("/todos/999") == 1


def test_404s_are_upstream_successes(make_service, upstream):
    # Two failures in a row would open the circuit: 404s must not count.
    s = make_service(CIRCUIT_FAILURES=2, FCGI_PROCS=1, NEGATIVE_TTL=0)
    before = scrape(s)
    for todo_id in (901, 902, 903, 901):
        r = s.get(f"/get_todos/{todo_id}")
        assert r.status == 404 and r.json() == NOT_FOUND, r
        assert r.headers["cache-status"] == "todos-fcgi; fwd=uri-miss; fwd-status=404", r
        # Not stored (NEGATIVE_TTL=0): not from the cache, so no-store.
        assert r.headers["cache-control"] == "no-store", r
    after = scrape(s)
    assert delta(after, before, 'todos_upstream_requests_total{outcome="ok"}') == 4
    assert delta(after, before, 'todos_upstream_requests_total{outcome="error"}') == 0
    assert delta(after, before, 'todos_requests_total{route="todo",status="404",cache="MISS"}') == 4
    h = s.get("/health")
    assert h.status == 200
    assert h.json() == {"status": "ok", "redis": "up", "upstream": "ok",
                        "upstream_failures": 0, "upstream_last_failure": None}
    r = s.get("/get_todos/1")
    assert r.status == 200 and r.json() == TODOS[0], r
    assert r.headers["x-cache"] == "MISS"


def test_a_404_after_failures_ends_the_failing_streak(make_service, upstream):
    s = make_service(FCGI_PROCS=1, NEGATIVE_TTL=0)
    upstream.fault(path="/todos/1", mode="status", status=500)
    assert s.get("/get_todos/1").status == 502
    assert s.get("/get_todos/1").status == 502
    h = s.get("/health").json()
    assert (h["status"], h["upstream"], h["upstream_failures"]) == ("degraded", "failing", 2), h
    assert s.get("/get_todos/904").status == 404
    h = s.get("/health").json()
    assert (h["status"], h["upstream"], h["upstream_failures"]) == ("ok", "ok", 0), h
    assert h["upstream_last_failure"] is not None


def test_threads_that_waited_for_a_404_get_it_as_the_fetch_did(make_service, upstream):
    # One process: the waiters share the fetching thread's outcome (fill.c's
    # flight), with the entry as stored: max-age, Age and ttl of a 404.
    s = make_service(FCGI_PROCS=1, FCGI_THREADS=8, NEGATIVE_TTL=7, LOCAL_CACHE_BYTES=0)
    upstream.fault(path="/todos/998", mode="delay", delay_ms=800)
    results = burst(s.port, "/get_todos/998", 6)
    assert upstream.count("/todos/998") == 1
    for r in results:
        assert r.status == 404 and r.json() == NOT_FOUND, r
        assert r.headers["cache-control"] == "max-age=7", r
        assert r.headers["age"] == "0", r
    statuses = sorted((r.headers["x-cache"], r.headers["cache-status"]) for r in results)
    assert statuses == [("HIT", "todos-fcgi; fwd=uri-miss; collapsed; ttl=7")] * 5 + [
        ("MISS", "todos-fcgi; fwd=uri-miss; fwd-status=404; stored; ttl=7")], statuses


def test_threads_that_waited_for_a_200_get_its_entry(make_service, upstream):
    s = make_service(FCGI_PROCS=1, FCGI_THREADS=8, LOCAL_CACHE_BYTES=0)
    upstream.fault(path="/todos/7", mode="delay", delay_ms=800)
    results = burst(s.port, "/get_todos/7", 6)
    assert upstream.count("/todos/7") == 1
    etags = {r.headers["etag"] for r in results}
    assert len(etags) == 1
    for r in results:
        assert r.status == 200 and r.json() == TODOS[6], r
        assert r.headers["age"] == "0"
    statuses = sorted((r.headers["x-cache"], r.headers["cache-status"]) for r in results)
    assert statuses == [("HIT", "todos-fcgi; fwd=uri-miss; collapsed; ttl=60")] * 5 + [
        ("MISS", "todos-fcgi; fwd=uri-miss; fwd-status=200; stored; ttl=60")], statuses


def test_a_2xx_other_than_200_is_a_502_and_not_cached(make_service, upstream, redis):
    s = make_service(FCGI_PROCS=1)
    for status in (201, 203):
        upstream.override("/todos/5", json.dumps(TODOS[4]), status=status)
        r = s.get("/get_todos/5")
        assert r.status == 502, r
        assert r.json() == {"error": "upstream answered with an error", "status": 502}, r
        assert r.headers["cache-status"] == (
            f"todos-fcgi; fwd=uri-miss; fwd-status={status}; detail=upstream-error")
        assert r.headers["cache-control"] == "no-store"
        assert redis.cli("EXISTS", "todos:v1:/todos/5") == "0"
    assert upstream.count("/todos/5") == 2


def test_a_refused_connect_is_tried_once_more_after_a_pause(make_service):
    # Nothing listens: each fetch is refused twice, 20-69 ms apart, and
    # counts once.  Without the second try it would take well under 10 ms.
    s = make_service(UPSTREAM_URL=f"http://127.0.0.1:{free_port()}", FCGI_PROCS=1)
    before = scrape(s)
    for todo_id in (1, 2, 3):
        start = time.monotonic()
        r = s.get(f"/get_todos/{todo_id}")
        assert time.monotonic() - start >= 0.02
        assert r.status == 502 and r.json() == {"error": "upstream unreachable", "status": 502}, r
    after = scrape(s)
    assert delta(after, before, 'todos_upstream_requests_total{outcome="error"}') == 3
    assert delta(after, before, 'todos_upstream_requests_total{outcome="ok"}') == 0
    assert delta(after, before, 'todos_upstream_duration_seconds_bucket{le="+Inf"}') == 3
    assert delta(after, before, 'todos_upstream_duration_seconds_bucket{le="0.01"}') == 0


def test_a_failed_fills_note_lasts_two_seconds(make_service, upstream, redis):
    # <prefix>fail:<path> tells the fill's waiters its error; it is kept
    # 2 s (README), not as long as an entry.
    s = make_service(FCGI_PROCS=1)
    upstream.fault(path="/todos/6", mode="status", status=500)
    assert s.get("/get_todos/6").status == 502
    assert redis.cli("EXISTS", "todos:v1:/todos/6") == "0"
    assert 0 < int(redis.cli("PTTL", "todos:v1:fail:/todos/6")) <= 2000
