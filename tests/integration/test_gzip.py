"""gzip: compressed once when the entry is filled, served to clients that
accept it, with its own ETag and Vary; everyone else gets the plain body."""

import gzip
import json

from harness import TODOS, wait_for

GZ = {"Accept-Encoding": "gzip"}


def filled(service, path="/get_todos"):
    """Fills path; its gzip form is added right after the first answer."""
    plain = service.get(path)
    wait_for(lambda: "content-encoding" in service.get(path, headers=GZ).headers, 5,
             "the gzip form to be stored")
    return plain


def test_list_is_served_gzipped_to_clients_that_accept_it(service, upstream, redis):
    plain = filled(service)
    assert plain.headers["x-cache"] == "MISS"
    zipped = service.get("/get_todos", headers=GZ)
    assert zipped.headers["x-cache"] == "HIT"
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert int(zipped.headers["content-length"]) == len(zipped.body)
    assert gzip.decompress(zipped.body) == plain.body
    assert json.loads(gzip.decompress(zipped.body)) == TODOS
    # At least 5x smaller, compressed once: the stored entry holds it.
    assert len(zipped.body) * 5 <= len(plain.body), (len(zipped.body), len(plain.body))
    stored = redis.cli_bytes("GET", "todos:v1:/todos")
    assert f"gz={len(zipped.body)}".encode() in stored.split(b"\n\n", 1)[0]
    assert stored.endswith(zipped.body)
    assert upstream.count() == 1


def test_plain_answer_has_no_content_encoding_but_varies(service):
    filled(service)
    for headers in ({}, {"Accept-Encoding": "identity"}, {"Accept-Encoding": "gzip;q=0"},
                    {"Accept-Encoding": "br, deflate"}):
        r = service.get("/get_todos", headers=headers)
        assert "content-encoding" not in r.headers, headers
        assert r.headers["vary"] == "Accept-Encoding"
        assert r.json() == TODOS


def test_gzip_has_its_own_etag_and_304(service):
    plain = filled(service)
    zipped = service.get("/get_todos", headers=GZ)
    assert zipped.headers["etag"] != plain.headers["etag"]
    assert zipped.headers["etag"] == plain.headers["etag"][:-1] + '-gz"'
    r = service.get("/get_todos", headers={**GZ, "If-None-Match": zipped.headers["etag"]})
    assert r.status == 304 and r.body == b""
    assert r.headers["etag"] == zipped.headers["etag"]
    assert r.headers["vary"] == "Accept-Encoding"
    # The plain tag does not validate the gzip representation, and back.
    assert service.get("/get_todos", headers={**GZ, "If-None-Match": plain.headers["etag"]}).status == 200
    assert service.get("/get_todos", headers={"If-None-Match": zipped.headers["etag"]}).status == 200


def test_small_todos_are_not_compressed(service, redis):
    service.get("/get_todos/1")
    r = service.get("/get_todos/1", headers=GZ)
    assert "content-encoding" not in r.headers
    assert r.json() == TODOS[0]
    assert "gz=" not in redis.cli("GET", "todos:v1:/todos/1")


def test_accept_encoding_forms(service):
    filled(service)
    for value in ("gzip", "GZIP", "deflate, gzip", "gzip;q=0.5", "*", "x-gzip", "br;q=1, gzip;q=0.1"):
        r = service.get("/get_todos", headers={"Accept-Encoding": value})
        assert r.headers.get("content-encoding") == "gzip", value
    for value in ("gzip;q=0", "gzip;q=0.000", "*;q=0", "identity", "*, gzip;q=0"):
        r = service.get("/get_todos", headers={"Accept-Encoding": value})
        assert "content-encoding" not in r.headers, value
