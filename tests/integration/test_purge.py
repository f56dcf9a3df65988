"""DELETE /get_todos[/<id>] with "Authorization: Bearer <PURGE_TOKEN>":
the entry is gone from Redis for every front.  Without PURGE_TOKEN there
is no DELETE at all; a refused purge changes nothing; a fill under way when
a purge comes does not store what it fetched."""

import base64
import threading
import time

import pytest

from harness import TODOS, assert_json_error, wait_for

TOKEN = "s3cret-token-0123456789"
KEY = "todos:v1:/todos/1"
RIGHT = {"Authorization": f"Bearer {TOKEN}"}


def get(service, path="/get_todos/1"):
    r = service.get(path)
    assert r.status == 200, r
    return r


def delete(service, path="/get_todos/1", headers=None):
    return service.get(path, method="DELETE", headers=headers)


def filled(service, redis, upstream, path="/get_todos/1", key=KEY):
    """Fills the entry; returns its stored bytes (as redis-cli shows them)."""
    assert get(service, path).headers["x-cache"] == "MISS"
    value = redis.cli("GET", key)
    assert value
    return value


def untouched(service, redis, upstream, value, path="/get_todos/1", key=KEY,
              upstream_path="/todos/1"):
    """The entry is byte-identical and still answers as a HIT."""
    assert redis.cli("GET", key) == value
    assert get(service, path).headers["x-cache"] == "HIT"
    assert upstream.count(upstream_path) == 1


@pytest.fixture(scope="module")
def purger(make_service):
    return make_service(PURGE_TOKEN=TOKEN)


# --- no PURGE_TOKEN: no DELETE ---------------------------------------------------

def test_without_token_delete_is_405(service, redis, upstream):
    value = filled(service, redis, upstream)
    for headers in (None, RIGHT):
        r = delete(service, headers=headers)
        assert_json_error(r, 405)
        assert r.headers["allow"] == "GET, HEAD"
    untouched(service, redis, upstream, value)


# --- with PURGE_TOKEN: who may purge ---------------------------------------------------

def test_with_token_405_allows_delete(purger):
    for method in ("PUT", "POST", "PATCH"):
        r = purger.get("/get_todos/1", method=method)
        assert_json_error(r, 405)
        assert r.headers["allow"] == "GET, HEAD, DELETE", (method, r)


def test_delete_without_authorization_is_401(purger, redis, upstream):
    value = filled(purger, redis, upstream)
    r = delete(purger)
    assert_json_error(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer "), r
    assert redis.cli("EXISTS", KEY) == "1"
    untouched(purger, redis, upstream, value)


@pytest.mark.parametrize("authorization", [
    "Bearer wrong-token-0123456789x",
    f"Bearer {TOKEN[:-1]}",
    f"Bearer {TOKEN[:8]}",
    f"Bearer {TOKEN}x",
    f"Bearer {TOKEN} x",
    f"Bearer x{TOKEN}",
    "Bearer ",
    "Bearer",
    TOKEN,
    f"Basic {TOKEN}",
    "Basic " + base64.b64encode(f"user:{TOKEN}".encode()).decode(),
    f"Token {TOKEN}",
    f"Bearer{TOKEN}",
])
def test_wrong_credentials_are_401_and_change_nothing(purger, redis, upstream, authorization):
    value = filled(purger, redis, upstream)
    ttl = int(redis.cli("PTTL", KEY))
    r = delete(purger, headers={"Authorization": authorization})
    assert_json_error(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer "), r
    assert 0 < int(redis.cli("PTTL", KEY)) <= ttl
    untouched(purger, redis, upstream, value)


def test_scheme_is_case_insensitive(purger, redis, upstream):
    filled(purger, redis, upstream)
    r = delete(purger, headers={"Authorization": f"bearer {TOKEN}"})
    assert r.status == 200, r
    assert r.json() == {"purged": True}
    assert redis.cli("EXISTS", KEY) == "0"


# --- what a purge does ------------------------------------------------------------

def test_purge_removes_the_entry_and_the_next_get_is_a_miss(purger, redis, upstream):
    filled(purger, redis, upstream)
    assert get(purger).headers["x-cache"] == "HIT"
    r = delete(purger, headers=RIGHT)
    assert r.status == 200, r
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    assert r.json() == {"purged": True}
    assert redis.cli("EXISTS", KEY) == "0"
    again = get(purger)
    assert again.headers["x-cache"] == "MISS"
    assert again.json() == TODOS[0]
    assert upstream.count("/todos/1") == 2


def test_purging_nothing_says_so(purger, redis):
    r = delete(purger, headers=RIGHT)
    assert r.status == 200, r
    assert r.json() == {"purged": False}
    assert r.headers["cache-control"] == "no-store"
    get(purger)
    assert delete(purger, headers=RIGHT).json() == {"purged": True}
    assert delete(purger, headers=RIGHT).json() == {"purged": False}
    assert redis.cli("EXISTS", KEY) == "0"


def test_purge_only_touches_its_own_key(purger, redis, upstream):
    for path in ("/get_todos/1", "/get_todos/2", "/get_todos"):
        get(purger, path)
    assert delete(purger, headers=RIGHT).json() == {"purged": True}
    assert sorted(redis.cli("KEYS", "*").split("\n")) == ["todos:v1:/todos", "todos:v1:/todos/2"]


def test_purge_the_list(purger, redis, upstream):
    get(purger, "/get_todos")
    get(purger, "/get_todos/1")
    r = delete(purger, "/get_todos", headers=RIGHT)
    assert r.status == 200, r
    assert r.json() == {"purged": True}
    assert redis.cli("EXISTS", "todos:v1:/todos") == "0"
    assert redis.cli("EXISTS", KEY) == "1"
    assert get(purger, "/get_todos").headers["x-cache"] == "MISS"
    assert upstream.count("/todos") == 2


def test_purge_with_leading_zeros(purger, redis):
    get(purger, "/get_todos/7")
    assert redis.cli("EXISTS", "todos:v1:/todos/7") == "1"
    r = delete(purger, "/get_todos/007", headers=RIGHT)
    assert r.status == 200, r
    assert r.json() == {"purged": True}
    assert redis.cli("EXISTS", "todos:v1:/todos/7") == "0"


def test_purge_of_bad_id_or_unknown_path(purger, redis):
    get(purger)
    assert_json_error(delete(purger, "/get_todos/abc", headers=RIGHT), 400)
    assert_json_error(delete(purger, "/nope", headers=RIGHT), 404)
    assert redis.cli("KEYS", "*") == KEY


def test_purge_reaches_every_front(make_service, redis, upstream):
    a = make_service(PURGE_TOKEN=TOKEN)
    b = make_service(PURGE_TOKEN=TOKEN)
    assert get(a).headers["x-cache"] == "MISS"
    assert get(b).headers["x-cache"] == "HIT"
    assert delete(a, headers=RIGHT).json() == {"purged": True}
    # b's in-process copy goes when Redis's invalidation reaches b's
    # channel, asynchronously (milliseconds; more under the sanitizers):
    # until then b may still answer HIT, then its first other answer is
    # the MISS of a new fill.
    r = wait_for(lambda: (lambda r: r if r.headers["x-cache"] != "HIT" else None)(get(b)),
                 2, "b to drop its copy")
    assert r.headers["x-cache"] == "MISS"
    assert r.json() == TODOS[0]
    assert get(a).headers["x-cache"] == "HIT"
    assert upstream.count("/todos/1") == 2


def test_token_never_logged(make_service, redis, upstream):
    s = make_service(PURGE_TOKEN=TOKEN, LOG_LEVEL="debug")
    get(s)
    assert delete(s, headers=RIGHT).json() == {"purged": True}
    assert delete(s, headers=RIGHT).json() == {"purged": False}
    for wrong in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", f"Bearer {TOKEN[:-1]}"):
        assert delete(s, headers={"Authorization": wrong}).status == 401
    assert_json_error(delete(s, "/get_todos/abc", headers=RIGHT), 400)
    out = s.output()
    # The log is captured at all: the purge itself is logged.
    assert "purged /todos/1" in out, out
    assert TOKEN not in out
    assert TOKEN[:12] not in out


def test_refused_purges_leave_the_value_byte_identical(make_service, service, purger,
                                                       redis, upstream):
    value = filled(purger, redis, upstream)
    refusals = [
        delete(service, headers=RIGHT),                                   # 405: no token here
        delete(purger),                                                   # 401: no header
        delete(purger, headers={"Authorization": f"Bearer {TOKEN}!"}),   # 401: wrong
        purger.get("/get_todos/1", method="PUT", headers=RIGHT),         # 405
    ]
    assert [r.status for r in refusals] == [405, 401, 401, 405], refusals
    assert redis.cli("GET", KEY) == value
    assert redis.cli("KEYS", "*") == KEY
    untouched(purger, redis, upstream, value)


def test_a_purge_during_a_fill_keeps_what_it_fetched_out_of_the_cache(purger, redis, upstream):
    # The fill of /todos/7 takes 1.2 s; the purge comes early in it.
    # What that fill fetched dates from before the purge: it answers its own
    # request, but is not stored, so the next request fetches again.
    upstream.fault(path="/todos/7", mode="delay", delay_ms=1200, times=1)
    answers = {}
    t = threading.Thread(target=lambda: answers.update(first=purger.get("/get_todos/7")))
    t.start()
    wait_for(lambda: upstream.count("/todos/7") == 1, 5, "the fill to reach the upstream")
    time.sleep(0.1)
    r = delete(purger, "/get_todos/7", headers=RIGHT)
    assert r.status == 200 and r.json() == {"purged": False}, r
    t.join(10)
    first = answers["first"]
    assert first.status == 200 and first.headers["x-cache"] == "MISS", first
    assert redis.cli("EXISTS", "todos:v1:/todos/7") == "0"
    r = get(purger, "/get_todos/7")
    assert r.headers["x-cache"] == "MISS", r
    assert upstream.count("/todos/7") == 2
    assert get(purger, "/get_todos/7").headers["x-cache"] == "HIT"
