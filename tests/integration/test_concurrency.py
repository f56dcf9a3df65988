"""Many requests at once in one responder process (issue 8: FCGI_THREADS
request threads and BACKGROUND_THREADS background threads per process),
through lighttpd/run as `make run` starts it.

- a HIT on a warm key stays fast while 20 other keys are being fetched and
  20 stale ones refreshed behind their answers, and the 20 misses overlap
  (about one upstream latency in all, not twenty);
- 10 concurrent requests for one cold key in one process make one upstream
  fetch (one MISS, nine collapsed HITs);
- a responder killed with SIGKILL mid-fetch costs only its own requests:
  the other process's in-flight requests all answer 200, and the killed
  owner's fill lock does not wedge its keys for longer than its lifetime;
- FCGI_THREADS bounds the requests one process serves at once.

What is in flight at the upstream, and which responder holds each
upstream connection, comes from the fake upstream's /__control/inflight
(tests/upstream/README.md) and /proc: no process is found by name.
"""

import os
import signal
import statistics
import threading
import time

import pytest

from harness import TODOS, http_request, wait_for

MISS_LATENCY_MS = 500


class Call:
    """One GET on its own thread, timed: .response or .error, .start, .done."""

    def __init__(self, port, path, timeout):
        self.port, self.path, self.timeout = port, path, timeout
        self.response = self.error = None
        self.start = self.done = None
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        self.start = time.monotonic()
        try:
            self.response = http_request(self.port, "GET", self.path, timeout=self.timeout)
        except OSError as e:  # includes socket.timeout
            self.error = e
        self.done = time.monotonic()

    @property
    def took(self):
        return self.done - self.start

    def __repr__(self):
        what = self.error if self.response is None else (
            self.response.status, self.response.headers.get("x-cache"),
            self.response.headers.get("cache-status"))
        return f"<{self.path} {what} {self.took if self.done else None}>"


def fire(port, paths, timeout):
    """Starts one Call per path, all at once; returns them."""
    calls = [Call(port, p, timeout) for p in paths]
    for c in calls:
        c.thread.start()
    return calls


def join(calls, timeout):
    deadline = time.monotonic() + timeout
    for c in calls:
        c.thread.join(max(0.0, deadline - time.monotonic()))
    late = [c for c in calls if c.done is None]
    assert not late, f"{len(late)} requests still unanswered after {timeout}s: {late[:3]}"


def timed_get(port, path, timeout):
    """(response or None, seconds) of one GET on this thread."""
    start = time.monotonic()
    try:
        r = http_request(port, "GET", path, timeout=timeout)
    except OSError:
        r = None
    return r, time.monotonic() - start


def flights(upstream):
    """{path: [client ports]} of what the upstream is answering now, and the peak."""
    answer = upstream.control("inflight")
    now = {}
    for f in answer["in_flight"]:
        now.setdefault(f["path"], []).append(f["client_port"])
    return now, answer["peak"]


def wait_in_flight(upstream, timeout, *wanted):
    """Waits (without failing) until, for each (paths, n) in wanted, at
    least n of paths are in flight together; returns the last snapshot."""
    deadline = time.monotonic() + timeout
    while True:
        now, _ = flights(upstream)
        if (all(sum(p in now for p in paths) >= n for paths, n in wanted)
                or time.monotonic() > deadline):
            return now
        time.sleep(0.005)


def todo_path(i):
    return f"/todos/{i}"


def check_miss(c, i):
    r = c.response
    assert r is not None, c
    assert r.status == 200, c
    assert r.headers["x-cache"] == "MISS", c
    assert r.json() == TODOS[i - 1]


def upstream_sockets(pid, upstream_port):
    """Local TCP ports of pid's connections to 127.0.0.1:upstream_port."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
        with open(f"/proc/{pid}/net/tcp") as f:
            lines = f.read().splitlines()[1:]
    except FileNotFoundError:
        return set()
    ports = set()
    for line in lines:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if inode in inodes and int(remote.split(":")[1], 16) == upstream_port:
            ports.add(int(local.split(":")[1], 16))
    return ports


@pytest.fixture
def service_for_test(make_service):
    """make_service, but each service is stopped when its test ends (also
    when it fails), so no request of one test is still running in the next."""
    started = []

    def make(**env):
        s = make_service(**env)
        started.append(s)
        # lighttpd listens before its responders are all up: the first
        # request can take most of a second.  Not in the measurements.
        wait_for(lambda: timed_get(s.port, "/health", 5)[1] < 0.05
                 and timed_get(s.port, "/health", 5)[1] < 0.05, 10, "the responders to start")
        return s
    yield make
    for s in started:
        s.stop()


@pytest.fixture
def slow_misses(upstream):
    """Every upstream answer (not the control API) takes MISS_LATENCY_MS;
    a fault, so the reset before the next test takes it away."""
    def on():
        upstream.fault(path="*", mode="delay", delay_ms=MISS_LATENCY_MS)
    return on


# --- a. hits stay fast while misses and refreshes are in flight ------------

K = 1
STALE_IDS = range(21, 41)   # 20 keys made stale beforehand
MISS_IDS = range(41, 61)    # 20 keys never fetched


def test_hit_is_fast_while_20_keys_are_fetched_and_20_refreshed(service_for_test, upstream,
                                                                slow_misses):
    # The 20 stale keys: filled by a first front on the same Redis with
    # CACHE_TTL=1 (the freshness lifetime is stored in each entry), then
    # left to age past it.  The front under test keeps the default
    # CACHE_TTL, so K, filled by it, stays fresh for the whole test.
    filler = service_for_test(FCGI_PROCS=1, CACHE_TTL=1, STALE_TTL=60)
    for i in STALE_IDS:
        assert filler.get(f"/get_todos/{i}").headers["x-cache"] == "MISS"
    aged = time.monotonic() + 1.3
    filler.stop()
    s = service_for_test(FCGI_PROCS=1, STALE_WHILE_REVALIDATE=30, BACKGROUND_THREADS=8,
                         UPSTREAM_TIMEOUT_MS=5000)
    assert s.get(f"/get_todos/{K}").headers["x-cache"] == "MISS"
    assert s.get(f"/get_todos/{K}").headers["x-cache"] == "HIT"
    time.sleep(max(0.0, aged - time.monotonic()))
    upstream.reset()
    slow_misses()

    miss_paths = [todo_path(i) for i in MISS_IDS]
    stale_paths = [todo_path(i) for i in STALE_IDS]
    # The stale keys first: answered at once, their 20 refreshes then
    # keep the BACKGROUND_THREADS (8) busy for ~3 upstream latencies, all
    # through the misses' one.
    stales = fire(s.port, [f"/get_todos/{i}" for i in STALE_IDS], timeout=5)
    first = wait_in_flight(upstream, 1.0, (stale_paths, 8))
    t0 = time.monotonic()
    misses = fire(s.port, [f"/get_todos/{i}" for i in MISS_IDS], timeout=5)
    # All 20 misses at the upstream at once (within their latency).
    before = wait_in_flight(upstream, 0.9 * MISS_LATENCY_MS / 1000, (miss_paths, 20))
    # The HITs.  Why the median of 9 under 20 ms and the max under 250 ms:
    # a HIT costs ~0.5 ms through lighttpd here, but on a loaded 2-core
    # CI machine any single request can lose a scheduler slice or two to
    # lighttpd, Redis, the fake upstream and the 40 client threads of this
    # test (with both cores kept busy by two spinning processes, 9 HITs
    # during 20 misses measured a median of 0.5 ms and a max of 16.6 ms
    # once: "every one < 20 ms" would be flaky).  The median of 9
    # tolerates 4 such hiccups and still fails outright if HITs wait for
    # anything slow; what the single-threaded responder does -- a HIT
    # queued behind fetches costs a whole upstream latency (500 ms) or
    # more -- the max catches at half that latency.
    hits = []
    for _ in range(9):
        r, took = timed_get(s.port, f"/get_todos/{K}", timeout=0.5)
        hits.append((r, took))
        if r is None:
            break  # one unanswered in 500 ms is enough to fail
        time.sleep(0.005)
    after, _ = flights(upstream)
    times = sorted(round(t * 1000, 1) for _, t in hits)
    refreshing = sum(p in before for p in stale_paths)
    context = (f"HIT ms {times}; refreshes in flight at first: "
               f"{sum(p in first for p in stale_paths)}; before the HITs: misses "
               f"{sum(p in before for p in miss_paths)}/20, refreshes {refreshing}; "
               f"misses still in flight after: {sum(p in after for p in miss_paths)}")
    assert all(r is not None and r.status == 200 and r.headers["x-cache"] == "HIT"
               and r.json() == TODOS[K - 1] for r, _ in hits), context
    assert statistics.median(t for _, t in hits) < 0.020, context
    assert max(t for _, t in hits) < 0.250, context
    # ... and they were measured while the fetches were going on: all 20
    # misses at the upstream together right before the first HIT, with
    # refreshes, and misses still there after the last one.  The
    # refreshes ran BACKGROUND_THREADS (8) at a time, no more.
    assert sum(p in before for p in miss_paths) == 20, context
    assert refreshing >= 1, context
    assert any(p in after for p in miss_paths), context
    assert sum(p in first for p in stale_paths) == 8, context

    join(misses + stales, 5)
    assert upstream.control("inflight")["peak"] <= 20 + 8
    # The 20 misses overlapped: one upstream latency each, about one in all.
    for c, i in zip(misses, MISS_IDS):
        check_miss(c, i)
        assert c.took >= MISS_LATENCY_MS / 1000, c
    wall = max(c.done for c in misses) - t0
    assert wall < 2 * MISS_LATENCY_MS / 1000 + 0.5, (wall, misses)
    # The stale keys were answered at once from the stale copies.
    for c, i in zip(stales, STALE_IDS):
        r = c.response
        assert r is not None and r.status == 200, c
        assert r.headers["x-cache"] == "STALE", c
        assert r.headers["cache-status"] == f"todos-fcgi; hit; ttl={1 - int(r.headers['age'])}; " \
            "detail=stale-while-revalidate", c
        assert r.json() == TODOS[i - 1]
        assert c.took < MISS_LATENCY_MS / 1000, c
    # One upstream fetch per missed key; none for K; the refreshes (20
    # jobs, 8 at a time) each at most once (a full queue may drop some).
    wait_for(lambda: not flights(upstream)[0], 4, "the refreshes to finish")
    stats = upstream.stats()["requests"]
    assert {p: stats.get(p, 0) for p in miss_paths} == {p: 1 for p in miss_paths}
    assert stats.get(todo_path(K), 0) == 0
    assert all(stats.get(p, 0) <= 1 for p in stale_paths), stats
    assert sum(stats.get(p, 0) for p in stale_paths) >= 8, stats


# --- b. concurrent requests for one key in one process: one fetch ----------

def test_ten_concurrent_requests_in_one_process_make_one_fetch(service_for_test, upstream):
    s = service_for_test(FCGI_PROCS=1)
    upstream.fault(path="/todos/71", mode="delay", delay_ms=800)
    t0 = time.monotonic()
    calls = fire(s.port, ["/get_todos/71"] * 10, timeout=5)
    join(calls, 5)
    assert all(c.response is not None and c.response.status == 200 for c in calls), calls
    assert all(c.response.json() == TODOS[70] for c in calls)
    assert upstream.count("/todos/71") == 1
    kinds = sorted(c.response.headers["x-cache"] for c in calls)
    assert kinds == ["HIT"] * 9 + ["MISS"], calls
    # The nine HITs were answered from the one fill (README: Cache-Status
    # "collapsed"), all together, right after it.
    hits = [c for c in calls if c.response.headers["x-cache"] == "HIT"]
    assert all(c.response.headers["cache-status"] == "todos-fcgi; fwd=uri-miss; collapsed; ttl=60"
               for c in hits), [c.response.headers["cache-status"] for c in hits]
    miss = next(c for c in calls if c.response.headers["x-cache"] == "MISS")
    assert miss.response.headers["cache-status"] == \
        "todos-fcgi; fwd=uri-miss; fwd-status=200; stored; ttl=60"
    assert max(c.done for c in calls) - t0 < 0.8 + 0.5, calls
    assert max(c.done for c in calls) - miss.done < 0.1, calls


# --- c. a responder killed mid-fetch --------------------------------------

KILL_IDS = range(81, 89)
TIMEOUT_MS = 1500  # UPSTREAM_TIMEOUT_MS; the fill lock lives 1000 ms longer


def test_killing_a_responder_mid_fetch_loses_nothing_of_the_other(service_for_test, upstream, redis):
    s = service_for_test(FCGI_PROCS=2, UPSTREAM_TIMEOUT_MS=TIMEOUT_MS)
    wait_for(lambda: len(s.responder_pids()) == 2, 10, "2 responders")
    pids = s.responder_pids()
    for i in KILL_IDS:
        # Used up by the first fetch: the fetch after the kill is quick.
        upstream.fault(path=todo_path(i), mode="delay", delay_ms=1200, times=1)
    paths = [todo_path(i) for i in KILL_IDS]
    calls = fire(s.port, [f"/get_todos/{i}" for i in KILL_IDS], timeout=6)
    now = wait_in_flight(upstream, 1.0, (paths, len(paths)))
    assert sorted(now) == paths, f"expected all 8 fetches in flight at once, got {now}"
    # Which responder holds each fetch: the upstream connection's source
    # port, found among each responder's sockets.
    owner = {}
    for pid in pids:
        ports = upstream_sockets(pid, upstream.port)
        for path in paths:
            if set(now[path]) & ports:
                owner[path] = pid
    assert sorted(owner) == paths, (owner, now)
    by_pid = {pid: [p for p in paths if owner[p] == pid] for pid in pids}
    assert all(by_pid.values()), f"fetches not spread over both responders: {by_pid}"
    victim = pids[0]
    os.kill(victim, signal.SIGKILL)
    killed = time.monotonic()

    join(calls, 6)
    for c, i in zip(calls, KILL_IDS):
        if owner[todo_path(i)] != victim:
            check_miss(c, i)   # the other process lost nothing
        else:
            r = c.response     # lighttpd's JSON error for the dead one's
            assert r is not None and r.status in (500, 502, 503), c
            assert r.headers["content-type"] == "application/json", c
    # The dead owner's fill locks expire UPSTREAM_TIMEOUT_MS + 1000 ms
    # after they were taken (fcgi/fill.c), which was before the kill.  A
    # request meanwhile waits for the owner at most UPSTREAM_TIMEOUT_MS
    # and answers 504; once the lock is gone the next one fetches.  So
    # each request answers within UPSTREAM_TIMEOUT_MS + 1 s, and the key
    # is a 200 MISS again by the lock's lifetime + 0.7 s after the kill
    # (slack for lighttpd's respawn, the 10 ms lock poll and a loaded CI).
    refetched = {}

    def again(i):
        while time.monotonic() - killed < 5:
            r, took = timed_get(s.port, f"/get_todos/{i}", timeout=5)
            assert r is not None and took < TIMEOUT_MS / 1000 + 1, (i, r, took)
            if r.status == 200:
                refetched[i] = (r, time.monotonic() - killed)
                return
            assert r.status == 504 and r.headers["content-type"] == "application/json", r

    victim_ids = [i for i in KILL_IDS if owner[todo_path(i)] == victim]
    errors = []

    def run(i):
        try:
            again(i)
        except AssertionError as e:
            errors.append(e)
    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in victim_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(8)
    assert not errors, errors
    assert sorted(refetched) == victim_ids, refetched
    for i, (r, after) in refetched.items():
        assert r.headers["x-cache"] == "MISS" and r.json() == TODOS[i - 1], r
        assert after < (TIMEOUT_MS + 1000) / 1000 + 0.7, (i, after)
    counts = upstream.stats()["requests"]
    assert {p: counts.get(p, 0) for p in paths} == \
        {p: 2 if owner[p] == victim else 1 for p in paths}


# --- d. FCGI_THREADS bounds one process's concurrency --------------------

def test_fcgi_threads_bounds_the_requests_served_at_once(service_for_test, upstream):
    s = service_for_test(FCGI_PROCS=1, FCGI_THREADS=4)
    assert s.get("/get_todos/96").headers["x-cache"] == "MISS"
    assert s.get("/get_todos/96").headers["x-cache"] == "HIT"
    upstream.reset()
    slow = range(91, 96)  # 5 slow misses for 4 threads
    for i in slow:
        upstream.fault(path=todo_path(i), mode="delay", delay_ms=800)
    paths = [todo_path(i) for i in slow]
    t0 = time.monotonic()
    calls = fire(s.port, [f"/get_todos/{i}" for i in slow], timeout=5)
    now = wait_in_flight(upstream, 0.7, (paths, 4))
    assert sum(p in now for p in paths) == 4, f"expected 4 fetches in flight at once: {now}"
    time.sleep(0.15)
    now, _ = flights(upstream)
    assert sum(p in now for p in paths) == 4, f"a 5th fetch started with 4 threads: {now}"
    # A HIT now has no thread to run on: it waits (in the socket's queue)
    # until one of the 4 fetches is answered.
    hit = Call(s.port, "/get_todos/96", timeout=5)
    hit.run()
    join(calls, 5)
    first = min(c.done for c in calls)
    assert hit.response is not None and hit.response.status == 200, hit
    assert hit.response.headers["x-cache"] == "HIT", hit
    assert hit.done >= first - 0.02, (hit, calls)
    assert hit.took > 0.3, hit
    for c, i in zip(calls, slow):
        check_miss(c, i)
    # Two rounds: the 5th fetch began only when one of the first 4 ended.
    assert max(c.done for c in calls) - t0 >= 2 * 0.8 - 0.05, calls
    assert upstream.control("inflight")["peak"] == 4
    assert {p: upstream.count(p) for p in paths} == {p: 1 for p in paths}
