"""Every row of the endpoint table, through each front on a real port:
lighttpd (lighttpd/run), Apache and nginx (apache/run, nginx/run, in front
of the todos-fcgi daemon)."""

import json

import pytest

from harness import FRONTS, TODOS, assert_json_error


@pytest.fixture(scope="module", params=FRONTS)
def service(request, make_service):
    """This module's service, once per front."""
    return make_service(front=request.param)


# A %00 in the path is refused by the front itself, each with its own
# JSON error: lighttpd and nginx a 400, Apache a 404 (its core refuses a
# decoded NUL in the path).  In the query only lighttpd refuses it; Apache
# and nginx pass it on, and the responder ignores the query (a 200).
NUL_STATUS = {"lighttpd": 400, "apache": 404, "nginx": 400}


BAD_JSON = "upstream answer is not the expected JSON"


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def assert_ok(r, x_cache):
    assert r.status == 200, r
    assert r.headers["content-type"] == "application/json"
    assert int(r.headers["content-length"]) == len(r.body)
    assert r.headers["x-cache"] == x_cache
    assert int(r.headers["age"]) >= 0
    assert r.headers["cache-control"].startswith("max-age=")


def test_list_is_the_upstream_array_compact(service, upstream):
    r = service.get("/get_todos")
    assert_ok(r, "MISS")
    assert r.json() == TODOS
    assert r.body == compact(TODOS)
    assert upstream.count("/todos") == 1


def test_one_todo_keeps_key_order(service):
    r = service.get("/get_todos/1")
    assert_ok(r, "MISS")
    assert r.body == compact(TODOS[0])
    assert list(r.json()) == ["userId", "id", "title", "completed"]


@pytest.mark.parametrize("todo_id", [1, 2, 57, 199, 200])
def test_each_id_is_its_own_todo(service, todo_id):
    assert service.get(f"/get_todos/{todo_id}").json() == TODOS[todo_id - 1]


@pytest.mark.parametrize("todo_id", ["201", "999", "2147483647"])
def test_id_the_upstream_does_not_have_is_404(service, upstream, todo_id):
    r = service.get(f"/get_todos/{todo_id}")
    assert_json_error(r, 404)
    assert upstream.count(f"/todos/{todo_id}") == 1


@pytest.mark.parametrize("bad", [
    "abc", "-1", "1.5", "0x10", "+5", "99999999999999999999", "2147483648",
    "0", "00", "1e3", "%31", "1%00", "%20", "%2e%2e", "1a", "%F0%9F%98%80",
])
def test_invalid_id_is_400_and_never_reaches_upstream(service, upstream, bad):
    r = service.get(f"/get_todos/{bad}")
    assert_json_error(r, NUL_STATUS[service.front] if "%00" in bad else 400)
    assert upstream.count() == 0


def test_leading_zeros_are_the_canonical_id(service, upstream, redis):
    r = service.get("/get_todos/007")
    assert_ok(r, "MISS")
    assert r.json() == TODOS[6]
    assert service.get("/get_todos/7").headers["x-cache"] == "HIT"
    assert service.get("/get_todos/0007").headers["x-cache"] == "HIT"
    assert upstream.stats()["requests"] == {"/todos/7": 1}
    assert redis.cli("KEYS", "*") == "todos:v1:/todos/7"


@pytest.mark.parametrize("path", [
    "/nope", "/", "/get_todos/", "/get_todos/1/extra", "/get_todos//1",
    "//get_todos", "/get_todosx", "/GET_TODOS", "/favicon.ico",
    "/get_todos/1/", "/todos/1", "/get_todos/../get_todos/1",
])
def test_other_paths_are_404(service, upstream, path):
    assert_json_error(service.get(path), 404)
    assert upstream.count() == 0


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/get_todos", "/get_todos/1"])
def test_other_methods_are_405_with_allow(service, upstream, method, path):
    r = service.get(path, method=method, body=b"{}",
                    headers={"Content-Type": "application/json"})
    assert_json_error(r, 405)
    assert r.headers["allow"] == "GET, HEAD"
    assert upstream.count() == 0


@pytest.mark.parametrize("path", ["/get_todos/3", "/get_todos", "/get_todos/201",
                                  "/get_todos/abc", "/nope"])
def test_head_is_get_without_body(service, path):
    service.get(path)  # fill, so that both answers below are HITs
    get = service.get(path)
    head = service.get(path, method="HEAD")
    assert head.status == get.status
    assert head.body == b""
    drop = {"date"}
    assert {k: v for k, v in head.headers.items() if k not in drop} == \
        {k: v for k, v in get.headers.items() if k not in drop}


def test_head_miss_fills_the_cache(service, upstream):
    assert service.get("/get_todos/9", method="HEAD").headers["x-cache"] == "MISS"
    r = service.get("/get_todos/9")
    assert_ok(r, "HIT")
    assert r.json() == TODOS[8]
    assert upstream.count("/todos/9") == 1


def test_query_string_is_ignored(service, upstream, redis):
    a = service.get("/get_todos/4?utm=x")
    assert_ok(a, "MISS")
    b = service.get("/get_todos/4")
    assert_ok(b, "HIT")
    c = service.get("/get_todos/4?a=1&b=%2F&c=/../x")
    assert_ok(c, "HIT")
    assert a.body == b.body == c.body == compact(TODOS[3])
    assert upstream.stats()["requests"] == {"/todos/4": 1}
    assert redis.cli("KEYS", "*") == "todos:v1:/todos/4"
    assert service.get("/get_todos?page=2").json() == TODOS


HARD = {
    "userId": 1, "id": 5,
    "title": 'q"uote \\ back\\slash /slash \n\t\r\b\f \u0001\u001f \u0000 nul '
             "é ü 日本語 😀 \U0001F9D1\u200D\U0001F680 \u2028\u2029 </script>",
    "completed": True, "nested": {"a": [1, -2, 3.5, None, False, {}], "": "empty key"},
}


def test_hard_json_strings_round_trip_exactly(service, upstream):
    upstream.override("/todos/5", json.dumps(HARD, indent=2, ensure_ascii=False))
    miss = service.get("/get_todos/5")
    hit = service.get("/get_todos/5")
    assert_ok(miss, "MISS")
    assert_ok(hit, "HIT")
    assert miss.body == hit.body
    assert json.loads(miss.body) == HARD
    # Non-ASCII text is passed through as UTF-8, not \u-escaped.
    assert "😀 \U0001F9D1\u200D\U0001F680".encode() in miss.body
    assert "日本語".encode() in miss.body
    assert b"\n" not in miss.body and b", " not in miss.body


def test_escaped_unicode_in_upstream_is_emitted_as_utf8(service, upstream):
    upstream.override("/todos/6", '{"title": "caf\\u00e9 \\ud83d\\ude00"}')
    r = service.get("/get_todos/6")
    assert r.body == '{"title":"café 😀"}'.encode()


@pytest.mark.parametrize("body", [
    "", "{", '{"id": 1,', "[1,]", "not json", "{'a': 1}", '{"a": 1} trailing',
    "1", '"just a string"', "null", b'{"a": "\xff"}', b'{"a": "\xc3\x28"}',
    b'{"a": 1}\x00', b'\xef\xbb\xbf{"a": 1}',
])
def test_invalid_json_from_upstream_is_502_and_not_cached(service, upstream, redis, body):
    upstream.override("/todos/8", body)
    assert_json_error(service.get("/get_todos/8"), 502, BAD_JSON)
    assert_json_error(service.get("/get_todos/8"), 502, BAD_JSON)
    assert upstream.count("/todos/8") == 2
    assert redis.cli("EXISTS", "todos:v1:/todos/8") == "0"


def test_truncated_body_from_upstream_is_502(service, upstream, redis):
    upstream.fault(path="/todos/8", mode="invalid_json")
    assert_json_error(service.get("/get_todos/8"), 502, BAD_JSON)
    assert redis.cli("EXISTS", "todos:v1:/todos/8") == "0"




@pytest.mark.parametrize("path", ["/get_todos/1%00", "/get_todos/4?b=%00", "/get_todos%00"])
def test_nul_in_the_url_is_a_json_error_from_the_front(service, upstream, path):
    if "?" in path and service.front != "lighttpd":
        pytest.skip("only lighttpd refuses %00 in the query string")
    assert_json_error(service.get(path), NUL_STATUS[service.front])
    assert upstream.count() == 0


def test_purge_method_is_refused_with_json(service):
    """lighttpd refuses an unknown method itself (501); Apache and nginx
    pass it on and the responder answers 405."""
    r = service.get("/get_todos/1", method="PURGE")
    want = 501 if service.front == "lighttpd" else 405
    assert r.status == want
    assert r.headers["content-type"] == "application/json"
    assert r.json()["status"] == want


def test_post_with_a_large_body_is_refused(service, upstream):
    """413 for a body past 64 KiB: from the responder, once it has read it
    (Apache streams it, and must be let finish); nginx, which keeps request
    bodies in memory only (client_max_body_size 64k), refuses it first."""
    r = service.get("/get_todos/1", method="POST", body=b"x" * (1 << 20),
                    headers={"Content-Type": "application/octet-stream"})
    assert_json_error(r, 413)
    if service.front != "nginx":
        assert r.json()["error"] == "request body too large"
    assert service.get("/get_todos/1").status == 200
