"""Hostile requests, sent as raw bytes (http.client would normalise them).

Every case is one request on its own connection with `Connection: close`;
the whole answer is read until the server closes and parsed here.  Each
must get a status below 500 (the only exceptions are lighttpd's own 501
for a method it does not know and 505 for an HTTP version it does not
speak, which RFC 9110 15.6.2 and 15.6.6 call for; test_endpoints.py pins
the PURGE one too), a JSON body whenever there is a body, no header that
was smuggled in through the request, and it must not cost a responder its
life.  Requests that are not a valid id must never reach the upstream.

Who answered is part of each row: lighttpd's own answers (its error pages
under lighttpd/errors, OPTIONS *) carry no Cache-Control, every answer of
the responder does (reply.c writes one on each).  lighttpd's error pages
are compared byte for byte with the files.

One case gets no answer at all: a POST whose Content-Length promises more
than is sent before the client closes its write side.  lighttpd collects a
request body before it talks to the responder; the body can never be
complete, so it closes the connection (RFC 9112 section 8: an incomplete
message ends with closing the connection).  That row says "drop".
"""

import json
import os
import socket
import time

import pytest

from harness import TODOS, TOP

TIMEOUT = 5  # seconds for the whole exchange: the server must answer or close
ERRORS = os.path.join(TOP, "lighttpd", "errors")
# The 5xx that lighttpd itself owes an unknown method or version.
LIGHTTPD_5XX = {501, 505}
INJECTED = {"x-injected", "set-cookie"}


# --- one raw exchange -------------------------------------------------------

class RawResponse:
    def __init__(self, raw):
        self.raw = raw
        self.status = None
        self.version = None
        self.headers = []  # (lower-case name, value) in order
        self.body = b""
        self.trailing = b""  # bytes after the first response

    def header(self, name):
        values = [v for k, v in self.headers if k == name]
        assert len(values) <= 1, f"{name} sent {len(values)} times: {self!r}"
        return values[0] if values else None

    def __repr__(self):
        return f"<RawResponse {self.raw[:600]!r}>"


def exchange(port, data, shut_write=True):
    """Sends data, closes the write side, reads until the server closes.

    Returns (all bytes received, seconds taken).  A server that neither
    answers nor closes within TIMEOUT fails the test instead of hanging it.
    A reset after (part of) the answer keeps what arrived; a server that
    stops reading a huge request may also refuse the rest of it.
    """
    start = time.monotonic()
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        try:
            s.sendall(data)
            if shut_write:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed; read what it sent
        while True:
            if time.monotonic() - start > TIMEOUT:
                raise AssertionError(f"no end of answer after {TIMEOUT}s: {received[:300]!r}")
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                raise AssertionError(
                    f"server neither answered nor closed within {TIMEOUT}s; "
                    f"got {received[:300]!r}") from None
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return received, time.monotonic() - start


def dechunk(data):
    body = b""
    while True:
        line, sep, data = data.partition(b"\r\n")
        assert sep, f"chunk size line not terminated: {line!r}"
        size = int(line.split(b";")[0].strip(), 16)
        if size == 0:
            # Trailer section up to the empty line.
            while True:
                line, sep, data = data.partition(b"\r\n")
                assert sep, "chunked trailer not terminated"
                if line == b"":
                    return body, data
        chunk, crlf, data = data[:size], data[size:size + 2], data[size + 2:]
        assert len(chunk) == size and crlf == b"\r\n", "truncated chunk"
        body += chunk


def parse(raw):
    r = RawResponse(raw)
    head, sep, rest = raw.partition(b"\r\n\r\n")
    assert sep, f"no end of headers in {raw[:600]!r}"
    lines = head.split(b"\r\n")
    version, status, _reason = (lines[0].decode("latin-1").split(" ", 2) + [""])[:3]
    assert version in ("HTTP/1.0", "HTTP/1.1"), f"status line {lines[0]!r}"
    assert len(status) == 3 and status.isdigit(), f"status line {lines[0]!r}"
    r.version, r.status = version, int(status)
    for line in lines[1:]:
        assert b"\n" not in line and b"\r" not in line, f"bare CR/LF in header {line!r}"
        name, colon, value = line.partition(b":")
        assert colon and name and name == name.strip(), f"malformed header line {line!r}"
        r.headers.append((name.decode("latin-1").lower(), value.strip().decode("latin-1")))
    te = r.header("transfer-encoding")
    if te is not None:
        assert te.lower() == "chunked", r
        assert r.header("content-length") is None, r
        r.body, r.trailing = dechunk(rest)
    elif r.header("content-length") is not None:
        n = int(r.header("content-length"))
        assert len(rest) >= n, f"body shorter than Content-Length {n}: {r!r}"
        r.body, r.trailing = rest[:n], rest[n:]
    else:
        r.body = rest  # delimited by the close
    return r


# --- the catalogue ------------------------------------------------------------

def req(line, *headers, host=True, close=True, body=b""):
    """A raw request: line and headers are bytes, sent exactly as given."""
    head = [line]
    if host:
        head.append(b"Host: localhost")
    if close:
        head.append(b"Connection: close")
    head.extend(headers)
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def get(target, *headers, **kw):
    return req(b"GET " + target + b" HTTP/1.1", *headers, **kw)


L, R, DROP = "lighttpd", "responder", "drop"

# (id, request bytes, expected status, who answers)
CASES = [
    # Length.  lighttpd's limit is the whole header (request line included),
    # server.max-request-field-size, 8 KB by default: 431 from lighttpd.
    ("path-10KB", get(b"/get_todos/" + b"a" * 10240), 431, L),
    ("path-100KB", get(b"/get_todos/" + b"a" * 102400), 431, L),
    ("id-5000-digits", get(b"/get_todos/" + b"1" * 5000), 400, R),
    # NUL, CR, LF: lighttpd refuses control characters, raw or %-encoded
    # (url-ctrls-reject, on by default), in the path and in the query.
    ("pct00-in-path", get(b"/get_todos/1%00"), 400, L),
    ("pct00-in-query", get(b"/get_todos/1?x=%00"), 400, L),
    ("raw-nul-in-path", get(b"/get_todos/1\x00"), 400, L),
    ("crlf-in-path", get(b"/get_todos/1%0d%0aX-Injected:%20yes"), 400, L),
    ("crlf-in-query", get(b"/get_todos/1?%0d%0aX-Injected:%20yes"), 400, L),
    ("lf-in-path", get(b"/get_todos/1%0aX-Injected:%20yes"), 400, L),
    ("crlf-set-cookie-in-path", get(b"/get_todos/1%0d%0aSet-Cookie:%20a=b"), 400, L),
    ("crlf-set-cookie-in-query", get(b"/get_todos?x=%0d%0aSet-Cookie:%20a=b"), 400, L),
    ("raw-cr-in-request-line", get(b"/get_todos/1\rX-Injected: yes"), 400, L),
    ("raw-lf-in-request-line", get(b"/get_todos/1\nX-Injected: yes"), 400, L),
    ("raw-crlf-in-request-line", get(b"/get_todos/1\r\nX-Injected: yes"), 400, L),
    # Dot segments, double slashes, backslashes.  lighttpd normalises the
    # path for its own use but hands the responder the REQUEST_URI as sent;
    # the responder's allow-list refuses them all.
    ("pct2e-dot-segments", get(b"/get_todos/%2e%2e/get_todos/1"), 404, R),
    ("dotdot-pct2f", get(b"/get_todos/..%2f1"), 400, R),
    ("dotdot-etc-passwd", get(b"/get_todos/../../etc/passwd"), 404, R),
    ("double-slashes", get(b"//get_todos//1"), 404, R),
    ("backslash-for-slash", get(b"/get_todos\\1"), 404, R),
    ("backslash-dotdot", get(b"/get_todos/..\\..\\etc\\passwd"), 400, R),
    ("pct5c-backslash", get(b"/get_todos/%5c1"), 400, R),
    # Bytes that are not UTF-8.  lighttpd refuses the bytes that never occur
    # in UTF-8 (C0, C1, F5-FF), raw or %-encoded; other high bytes and
    # 3-byte overlong forms reach the responder, which refuses them.
    ("raw-xff-xfe", get(b"/get_todos/\xff\xfe"), 400, L),
    ("pct-ff-fe", get(b"/get_todos/%ff%fe"), 400, L),
    ("overlong-dot-c0ae", get(b"/get_todos/%c0%ae%c0%ae/1"), 400, L),
    ("overlong-one-c0b1", get(b"/get_todos/%c0%b1"), 400, L),
    ("overlong-slash-e080af", get(b"/get_todos/%e0%80%af"), 400, R),
    ("raw-x80-x81", get(b"/get_todos/1\x80\x81"), 400, R),
    ("raw-utf8-e-acute", get(b"/get_todos/\xc3\xa9"), 400, R),
    # Many query parameters: past lighttpd's limit, and within it (the
    # responder ignores the query string).
    ("5000-query-params", get(b"/get_todos/1?" + b"&".join([b"a=1"] * 5000)), 431, L),
    ("3500-query-params", get(b"/get_todos/1?" + b"&".join([b"a"] * 3500)), 200, R),
    # Headers.
    ("header-64KB", get(b"/get_todos/1", b"X-Big: " + b"x" * 65536), 431, L),
    ("500-headers", get(b"/get_todos/1", *[b"X-H%d: v" % i for i in range(500)]), 200, R),
    ("header-with-nul", get(b"/get_todos/1", b"X-Nul: a\x00b"), 400, L),
    # Ids that strtol & co. would take.
    ("id-plus-5", get(b"/get_todos/+5"), 400, R),
    ("id-0x10", get(b"/get_todos/0x10"), 400, R),
    ("id-minus-1", get(b"/get_todos/-1"), 400, R),
    ("id-1e3", get(b"/get_todos/1e3"), 400, R),
    ("id-space-1", get(b"/get_todos/%201"), 400, R),
    ("id-1.0", get(b"/get_todos/1.0"), 400, R),
    ("id-arabic-indic-3-raw", get(b"/get_todos/" + "\u0663".encode()), 400, R),
    ("id-arabic-indic-3-pct", get(b"/get_todos/%D9%A3"), 400, R),
    # Methods.  lighttpd answers the ones it does not know (501) and CONNECT;
    # it passes TRACE and OPTIONS on a path to the responder.
    ("PURGE", req(b"PURGE /get_todos/1 HTTP/1.1"), 501, L),
    ("TRACE", req(b"TRACE /get_todos/1 HTTP/1.1"), 405, R),
    ("OPTIONS-path", req(b"OPTIONS /get_todos/1 HTTP/1.1"), 405, R),
    ("CONNECT", req(b"CONNECT get_todos:80 HTTP/1.1"), 400, L),
    ("OPTIONS-star", req(b"OPTIONS * HTTP/1.1"), 200, L),
    ("lowercase-get", req(b"get /get_todos/1 HTTP/1.1"), 501, L),
    ("5KB-method", req(b"X" * 5120 + b" /get_todos/1 HTTP/1.1"), 501, L),
    # Request lines and versions.
    ("http-0.9-no-version", b"GET /get_todos/1\r\n\r\n", 400, L),
    ("http-1.1-without-host", get(b"/get_todos/1", host=False), 400, L),
    ("http-2.0-request-line", req(b"GET /get_todos/1 HTTP/2.0"), 505, L),
    # Absolute form: an authority that disagrees with Host is refused; alone
    # it is taken as the host and the path is served as any other (no proxying).
    ("absolute-form-with-host", get(b"http://evil.example/get_todos/1"), 400, L),
    ("absolute-form-no-host", get(b"http://evil.example/get_todos/1", host=False), 200, R),
    # A Content-Length that promises 100 bytes; 3 are sent, then the write
    # side is closed.  lighttpd refuses any body on a GET at once; a POST
    # body that can never complete ends with the connection closed.
    ("content-length-lie-get", get(b"/get_todos/1", b"Content-Length: 100", body=b"abc"), 400, L),
    ("content-length-lie-post", req(b"POST /get_todos/1 HTTP/1.1", b"Content-Length: 100",
                                    body=b"abc"), None, DROP),
    # If-None-Match garbage: past the header limit, and within it, where the
    # responder's list reader must give up and answer 200.
    ("if-none-match-10KB", get(b"/get_todos/1", b"If-None-Match: " + b"x" * 10240), 431, L),
    ("if-none-match-4KB-quotes", get(b"/get_todos/1", b"If-None-Match: " + b'"x' * 2000), 200, R),
    ("if-none-match-unbalanced", get(b"/get_todos/1", b'If-None-Match: "abc, "def'), 200, R),
    ("if-none-match-W/W/", get(b"/get_todos/1", b'If-None-Match: W/W/"x"'), 200, R),
    ("if-none-match-star-garbage", get(b"/get_todos/1", b'If-None-Match: *, "x'), 200, R),
    # Authorization garbage on a GET: ignored by the responder; control
    # characters in it are refused by lighttpd.
    ("authorization-printable-garbage",
     get(b"/get_todos/1", b"Authorization: Basic !!!not-base64=== '\"\" Bearer Bearer"), 200, R),
    ("authorization-4KB-bearer", get(b"/get_todos/1", b"Authorization: Bearer " + b"A" * 4000),
     200, R),
    ("authorization-high-bytes", get(b"/get_todos/1", b"Authorization: Bearer \xff\xfe\x80"), 200, R),
    ("authorization-control-chars",
     get(b"/get_todos/1", b"Authorization: Bearer \x01\x7f garbage"), 400, L),
]


def errorfile(status):
    path = os.path.join(ERRORS, f"status-{status}.html")
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def before(service):
    """lighttpd's PID and its responders' before the first hostile request."""
    r = service.get("/get_todos/1")
    assert r.status == 200, r
    pids = service.responder_pids()
    assert len(pids) == 2, pids
    return service.lighttpd_pid(), pids


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_request(service, upstream, before, case):
    name, data, status, origin = case
    raw, took = exchange(service.port, data)

    if origin == DROP:
        assert raw == b"", f"expected a close without answer, got {raw[:600]!r}"
    else:
        r = parse(raw)
        assert r.status == status, r
        assert r.status < 500 or r.status in LIGHTTPD_5XX and origin == L, r
        assert r.trailing == b"", f"more than one response: {r.trailing[:300]!r}"

        names = {k for k, _ in r.headers}
        assert not names & INJECTED, r
        assert not any("injected" in k for k in names), r

        if r.body:
            assert r.header("content-type") == "application/json", r
            doc = json.loads(r.body)
            if r.status >= 400:
                assert doc == {"error": doc["error"], "status": r.status}, r
                assert isinstance(doc["error"], str) and doc["error"], r
            else:
                assert r.status == 200 and doc == TODOS[0], r
        else:
            assert r.header("content-length") in (None, "0"), r

        answered_by = R if r.header("cache-control") is not None else L
        assert answered_by == origin, r
        if origin == L and r.body:
            assert r.body == errorfile(r.status), r

    # Only a valid id reaches the upstream; the cache was emptied before.
    fetched = status == 200 and origin == R
    assert upstream.stats()["requests"] == ({"/todos/1": 1} if fetched else {})
    assert took < TIMEOUT
    # No responder died (lighttpd would have started a new one).
    assert (service.lighttpd_pid(), service.responder_pids()) == before


def test_after_the_catalogue_the_same_responders_answer(service, upstream, before):
    raw, _ = exchange(service.port, get(b"/get_todos/1"))
    r = parse(raw)
    assert r.status == 200, r
    assert r.header("content-type") == "application/json"
    assert json.loads(r.body) == TODOS[0]
    assert service.get("/get_todos/1").json() == TODOS[0]
    assert (service.lighttpd_pid(), service.responder_pids()) == before
