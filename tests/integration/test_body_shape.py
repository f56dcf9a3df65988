"""The shape of an upstream answer (issue 9 item 8): /todos/<id> must be a
JSON object, /todos an array of objects.  Anything else is an invalid
upstream answer: a stale copy if one exists, else 502 with the JSON error
body, and it is never stored (neither in Redis nor in a responder)."""

import json
import time

import pytest

from harness import TODOS, assert_json_error, wait_for

PREFIX = "todos:v1:"


def entries(redis):
    """The stored entries (not the lock or failure notes)."""
    keys = redis.cli("KEYS", PREFIX + "/*")
    return sorted(k for k in keys.split("\n") if k)


WRONG = [
    # path upstream,  body
    ("/todos/160", "[1,2,3]"),                      # an array for an id
    ("/todos/160", '[{"userId": 8, "id": 160}]'),   # a list, even of todos
    ("/todos/160", "[]"),
    ("/todos", '{"userId": 1, "id": 1}'),           # an object for the list
    ("/todos", "[1,2,3]"),                          # an array of non-objects
    ("/todos", '[{"id": 1}, {"id": 2}, 3]'),        # one element not an object
    ("/todos", '[["a"], ["b"]]'),
    ("/todos/160", "160"),                          # scalars
    ("/todos/160", '"a todo"'),
    ("/todos", "null"),
    ("/todos", "true"),
]


@pytest.mark.parametrize("path,body", WRONG)
def test_wrong_shape_is_502_and_never_stored(service, upstream, redis, path, body):
    upstream.override(path, body)
    front = "/get" + path.replace("/todos", "_todos", 1)
    for _ in range(3):
        # Not "not valid JSON": it may be valid JSON, of the wrong shape.
        assert_json_error(service.get(front), 502, "upstream answer is not the expected JSON")
    # Every request asked the upstream again: nothing kept anywhere.
    assert upstream.count(path) == 3
    assert redis.cli("EXISTS", PREFIX + path) == "0"
    assert entries(redis) == []


def test_right_shapes_are_served(service, upstream, redis):
    upstream.override("/todos/160", '{"id": 160, "tags": [1, [2], {"a": []}]}')
    upstream.override("/todos", '[{"id": 1}, {}, {"n": [1, 2]}]')
    assert service.get("/get_todos/160").json() == {"id": 160, "tags": [1, [2], {"a": []}]}
    assert service.get("/get_todos").json() == [{"id": 1}, {}, {"n": [1, 2]}]
    upstream.override("/todos", "[]")
    redis.cli("FLUSHALL")
    r = service.get("/get_todos")
    assert r.status == 200 and r.body == b"[]"
    assert entries(redis) == [PREFIX + "/todos"]


def entry_older_than(redis, key, seconds):
    def old_enough():
        head = redis.cli("GET", key).split("\n\n", 1)[0]
        t = int(dict(line.split("=", 1) for line in head.split("\n"))["t"])
        return time.time() * 1000 - t > seconds * 1000
    wait_for(old_enough, seconds + 5, f"{key} to be {seconds}s old")


@pytest.mark.parametrize("path,body", [("/todos/160", "[1,2,3]"), ("/todos", '{"id": 1}'),
                                       ("/todos", "[1,2,3]"), ("/todos/160", "null")])
def test_wrong_shape_serves_the_stale_copy(make_service, upstream, redis, path, body):
    s = make_service(CACHE_TTL=1, STALE_WHILE_REVALIDATE=0, STALE_TTL=60)
    front = "/get" + path.replace("/todos", "_todos", 1)
    fresh = s.get(front)
    assert fresh.status == 200 and fresh.headers["x-cache"] == "MISS"
    want = TODOS if path == "/todos" else TODOS[159]
    assert fresh.json() == want
    entry_older_than(redis, PREFIX + path, 2)
    # (The list's gzip form has been added by now.)
    stored = redis.cli_bytes("GET", PREFIX + path)

    upstream.override(path, body)
    for _ in range(2):
        r = s.get(front)
        assert r.status == 200, r
        assert r.headers["x-cache"] == "STALE"
        assert r.body == fresh.body
        assert "fwd=stale; fwd-status=200" in r.headers["cache-status"]
    # The invalid answer replaced nothing: the entry is the one stored first.
    assert redis.cli_bytes("GET", PREFIX + path) == stored
    assert upstream.count(path) == 3
    assert json.loads(fresh.body) == want
