"""Pins of the background pool: an entry refreshed behind a
stale-while-revalidate answer gets its gzip form again (the refresh
stores a new value without one), so the list goes on being served
gzipped.  A planted bug that skipped it (tests/mutate/mutants) once
passed every test."""

import os

from harness import wait_for

KEY = "todos:v1:/todos"
GZIP = {"Accept-Encoding": "gzip"}


def head(redis):
    value = redis.cli_bytes("GET", KEY)
    return dict(line.split(b"=", 1) for line in value.split(b"\n\n", 1)[0].split(b"\n"))


def test_a_refreshed_list_gets_its_gzip_form_again(make_service, upstream, redis):
    s = make_service(FCGI_PROCS=1, CACHE_TTL=2, STALE_WHILE_REVALIDATE=30,
                     LOCAL_CACHE_BYTES=0)
    assert s.get("/get_todos").headers["x-cache"] == "MISS"
    wait_for(lambda: b"gz" in head(redis), 10, "the gzip form of the stored list")
    first = head(redis)
    wait_for(lambda: s.get("/get_todos", headers=GZIP).headers["x-cache"] == "STALE", 5,
             "the list to go stale", interval=0.2)
    wait_for(lambda: head(redis)[b"t"] != first[b"t"], 10, "the background refresh")
    assert upstream.count("/todos") == 2
    wait_for(lambda: b"gz" in head(redis), 10, "the gzip form of the refreshed list")
    assert head(redis)[b"gz"] == first[b"gz"]
    r = s.get("/get_todos", headers=GZIP)
    assert r.status == 200 and r.headers["content-encoding"] == "gzip", r
    assert r.headers["etag"].endswith('-gz"'), r
    assert len(r.body) == int(first[b"gz"])


def policies(pid):
    """The scheduling policy of each thread of pid (/proc's stat field 41:
    0 SCHED_OTHER, 5 SCHED_IDLE)."""
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            out.append(int(f.read().rsplit(") ", 1)[1].split()[38]))
    return sorted(out)


def test_gzip_forms_are_made_at_idle_priority(make_service):
    # zopfli takes ~100 ms of CPU for the list; made at normal priority it
    # took a core from the request threads for as long (the soak's hits
    # waited).  One thread per responder makes them, SCHED_IDLE; every
    # request and refresh thread keeps the normal policy.
    s = make_service(FCGI_PROCS=2, FCGI_THREADS=4, BACKGROUND_THREADS=3)
    for pid in s.responder_pids():
        wait_for(lambda: 5 in policies(pid), 5, "the gzip thread to lower its priority")
        got = policies(pid)
        assert got.count(5) == 1 and set(got) == {0, 5}, got
        # main, 4 request threads, 3 refresh threads and the gzip thread,
        # and the invalidation thread.
        assert len(got) == 1 + 4 + 3 + 1 + 1, got

