"""Pins of the background pool: an entry refreshed behind a
stale-while-revalidate answer gets its gzip form again (the refresh
stores a new value without one), so the list goes on being served
gzipped.  A planted bug that skipped it (tests/mutate/mutants) once
passed every test."""

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
