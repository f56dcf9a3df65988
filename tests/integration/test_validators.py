"""Validators (RFC 9110 8.8.3, 13.1.2): a strong ETag on every 200 and
If-None-Match answered with 304; and negative caching of the upstream's
404, with errors (5xx, timeouts, invalid JSON) never cached."""

import json
import re
import time

import pytest

from harness import TODOS, free_port, wait_for

KEY = "todos:v1:/todos/1"
TOKEN = "s3cret-token-0123456789"
STRONG = re.compile(r'^"[0-9a-f]{16}"$')


def get(service, path="/get_todos/1", inm=None, method="GET"):
    headers = {} if inm is None else {"If-None-Match": inm}
    return service.get(path, method=method, headers=headers)


def ok(r, x_cache):
    assert r.status == 200, r
    assert r.headers["x-cache"] == x_cache, r
    etags = [v for k, v in r.header_list if k == "etag"]
    assert len(etags) == 1, r.header_list
    assert STRONG.match(etags[0]), etags
    return etags[0]


def stored_etag(redis, key=KEY):
    head = redis.cli("GET", key).partition("\n\n")[0]
    fields = dict(line.split("=", 1) for line in head.split("\n"))
    return fields["etag"]


def not_modified(r, like, x_cache=None):
    """A 304 carrying what the 200 `like` carried, and no body."""
    assert r.status == 304, r
    assert r.body == b""
    assert r.headers.get("content-length", "0") == "0", r
    assert r.headers["etag"] == like.headers["etag"]
    assert r.headers["cache-control"] == like.headers["cache-control"]
    assert "x-cache" in r.headers and "cache-status" in r.headers, r
    if x_cache is not None:
        assert r.headers["x-cache"] == x_cache, r


@pytest.fixture(scope="module")
def other(make_service):
    """A second front on the same Redis and upstream."""
    return make_service()


# --- ETag ----------------------------------------------------------------

def test_etag_is_strong_and_the_same_on_miss_and_hit(service, redis):
    miss = get(service)
    tag = ok(miss, "MISS")
    hit = get(service)
    assert ok(hit, "HIT") == tag
    assert hit.body == miss.body
    assert stored_etag(redis) == tag


def test_etag_on_bypass_is_the_same(service, make_service):
    tag = ok(get(service), "MISS")
    # Nothing listens on that port: Redis is down for this front.
    down = make_service(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    r = get(down)
    assert ok(r, "BYPASS") == tag
    assert r.json() == TODOS[0]


def test_two_fronts_compute_the_same_etag(service, make_service, redis):
    tag = ok(get(service), "MISS")
    # Its own cache namespace, so this front computes the tag itself.
    separate = make_service(CACHE_PREFIX="elsewhere:v1:")
    assert ok(get(separate), "MISS") == tag
    assert stored_etag(redis, "elsewhere:v1:/todos/1") == tag


def test_different_todos_have_different_etags(service, redis):
    tags = {path: ok(get(service, path), "MISS")
            for path in ("/get_todos/1", "/get_todos/2", "/get_todos/3", "/get_todos")}
    assert len(set(tags.values())) == 4, tags
    assert stored_etag(redis, "todos:v1:/todos/2") == tags["/get_todos/2"]
    assert stored_etag(redis, "todos:v1:/todos") == tags["/get_todos"]


# --- If-None-Match -> 304 ------------------------------------------------

def test_matching_tag_is_304_without_body(service):
    full = get(service)
    tag = ok(full, "MISS")
    r = get(service, inm=tag)
    not_modified(r, full, "HIT")
    assert r.headers["cache-status"] == f"todos-fcgi; hit; ttl={60 - int(r.headers['age'])}"


def test_matching_tag_on_head_is_304(service):
    full = get(service)
    tag = ok(full, "MISS")
    not_modified(get(service, inm=tag, method="HEAD"), full, "HIT")


def test_weak_form_matches(service):
    full = get(service)
    tag = ok(full, "MISS")
    not_modified(get(service, inm="W/" + tag), full)


def test_tag_in_a_list_matches(service):
    full = get(service)
    tag = ok(full, "MISS")
    not_modified(get(service, inm=f'"nope", {tag}'), full)
    not_modified(get(service, inm=f'W/"a",W/"b" ,  {tag}'), full)


def test_star_matches(service):
    full = get(service)
    ok(full, "MISS")
    not_modified(get(service, inm="*"), full)


def test_other_tag_is_200_with_body(service):
    full = get(service)
    tag = ok(full, "MISS")
    other_tag = '"0000000000000000"' if tag != '"0000000000000000"' else '"1111111111111111"'
    for inm in (other_tag, '"nope"', tag[:-2] + '"', '""'):
        r = get(service, inm=inm)
        assert ok(r, "HIT") == tag, inm
        assert r.body == full.body, inm


def test_tag_of_another_todo_is_200(service):
    tag2 = ok(get(service, "/get_todos/2"), "MISS")
    r = get(service, inm=tag2)
    assert ok(r, "MISS") != tag2
    assert r.json() == TODOS[0]


@pytest.mark.parametrize("malformed", [
    "{tag} junk",        # a valid tag followed by garbage
    "{tag}, junk",       # a valid tag, then a list member that is not one
    "{bare}",            # the tag without its quotes
])
def test_malformed_value_is_200_with_body(service, malformed):
    full = get(service)
    tag = ok(full, "MISS")
    inm = malformed.format(tag=tag, bare=tag.strip('"'))
    r = get(service, inm=inm)
    assert r.status == 200, (inm, r)
    assert r.body == full.body


def test_304_on_a_miss_when_another_front_knows_the_tag(service, other, redis, upstream):
    full = get(service)
    tag = ok(full, "MISS")
    redis.cli("FLUSHALL")
    r = get(other, inm=tag)
    not_modified(r, full, "MISS")
    assert upstream.count("/todos/1") == 2
    assert stored_etag(redis) == tag


# --- a changed body gets a new tag -------------------------------------------

CHANGED = json.dumps({"userId": 1, "id": 1, "title": "changed upstream", "completed": True})


def test_changed_body_after_purge_gets_a_new_etag(make_service, upstream, redis):
    s = make_service(PURGE_TOKEN=TOKEN)
    old = ok(get(s), "MISS")
    upstream.override("/todos/1", CHANGED)
    # Still cached: the old tag still validates.
    assert get(s, inm=old).status == 304
    purge = s.get("/get_todos/1", method="DELETE", headers={"Authorization": f"Bearer {TOKEN}"})
    assert purge.status == 200, purge
    # Another responder drops its in-process copy when Redis's invalidation
    # message arrives, within milliseconds (README: Scale-out); until then it
    # may still answer 304 from it.  The first full answer is the refill.
    r = wait_for(lambda: (a := get(s, inm=old)).status != 304 and a, 2,
                 "the purge to reach every responder")
    new = ok(r, "MISS")
    assert new != old
    assert r.json() == json.loads(CHANGED)
    assert stored_etag(redis) == new
    assert get(s, inm=new).status == 304
    again = get(s, inm=old)
    assert ok(again, "HIT") == new
    assert again.json() == json.loads(CHANGED)


def test_changed_body_after_expiry_gets_a_new_etag(make_service, upstream, redis):
    s = make_service(CACHE_TTL=1, STALE_TTL=0, STALE_WHILE_REVALIDATE=0)
    old = ok(get(s), "MISS")
    upstream.override("/todos/1", CHANGED)
    wait_for(lambda: redis.cli("EXISTS", KEY) == "0", 5, "the entry to expire")
    r = get(s, inm=old)
    new = ok(r, "MISS")
    assert new != old
    assert r.json() == json.loads(CHANGED)
    assert get(s, inm=new).status == 304
    assert upstream.count("/todos/1") == 2


# --- negative caching ----------------------------------------------------------

NOT_FOUND = {"error": "not found", "status": 404}
KEY201 = "todos:v1:/todos/201"


def not_found(r, x_cache):
    assert r.status == 404, r
    assert r.headers["content-type"] == "application/json"
    assert r.json() == NOT_FOUND
    assert r.headers["x-cache"] == x_cache, r
    assert "etag" not in r.headers, r


@pytest.fixture(scope="module")
def negative(make_service):
    return make_service(NEGATIVE_TTL=2)


def test_404_is_cached_for_negative_ttl(negative, upstream, redis):
    not_found(get(negative, "/get_todos/201"), "MISS")
    assert redis.cli("EXISTS", KEY201) == "1"
    assert 0 < int(redis.cli("PTTL", KEY201)) <= 2000
    for _ in range(3):
        r = get(negative, "/get_todos/201")
        not_found(r, "HIT")
        assert r.headers["cache-status"] == f"todos-fcgi; hit; ttl={2 - int(r.headers['age'])}", r
    assert upstream.count("/todos/201") == 1
    wait_for(lambda: redis.cli("EXISTS", KEY201) == "0", 5, "the 404 to expire")
    not_found(get(negative, "/get_todos/201"), "MISS")
    assert upstream.count("/todos/201") == 2


def test_negative_ttl_zero_never_caches(make_service, upstream, redis):
    s = make_service(NEGATIVE_TTL=0)
    not_found(get(s, "/get_todos/201"), "MISS")
    assert redis.cli("EXISTS", KEY201) == "0"
    not_found(get(s, "/get_todos/201"), "MISS")
    assert upstream.count("/todos/201") == 2
    assert redis.cli("EXISTS", KEY201) == "0"


def entry_keys(redis, n):
    """Keys for id n other than the lock and fail markers."""
    keys = [k for k in redis.cli("KEYS", "*").split("\n") if k]
    return [k for k in keys if k.endswith(f"/todos/{n}")
            and k not in (f"todos:v1:lock:/todos/{n}", f"todos:v1:fail:/todos/{n}")]


def test_5xx_is_never_cached(negative, upstream, redis):
    upstream.fault(path="/todos/5", mode="status", status=500)
    for _ in range(2):
        r = get(negative, "/get_todos/5")
        assert r.status == 502, r
        assert redis.cli("EXISTS", "todos:v1:/todos/5") == "0"
    assert upstream.count("/todos/5") == 2
    assert entry_keys(redis, 5) == []
    upstream.reset()
    r = get(negative, "/get_todos/5")
    assert ok(r, "MISS")
    assert r.json() == TODOS[4]


def test_timeout_is_never_cached(make_service, upstream, redis):
    s = make_service(UPSTREAM_TIMEOUT_MS=800, NEGATIVE_TTL=2)
    upstream.fault(path="/todos/6", mode="hang", times=1)
    start = time.monotonic()
    r = get(s, "/get_todos/6")
    assert r.status == 504, r
    assert time.monotonic() - start < 3
    assert redis.cli("EXISTS", "todos:v1:/todos/6") == "0"
    assert entry_keys(redis, 6) == []
    r = get(s, "/get_todos/6")
    assert ok(r, "MISS")
    assert r.json() == TODOS[5]
    assert upstream.count("/todos/6") == 2


def test_invalid_json_is_never_cached(negative, upstream, redis):
    upstream.fault(path="/todos/8", mode="invalid_json", times=1)
    r = get(negative, "/get_todos/8")
    assert r.status == 502, r
    assert redis.cli("EXISTS", "todos:v1:/todos/8") == "0"
    assert entry_keys(redis, 8) == []
    r = get(negative, "/get_todos/8")
    assert ok(r, "MISS")
    assert r.json() == TODOS[7]
    assert upstream.count("/todos/8") == 2
