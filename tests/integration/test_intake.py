"""A request's prelude (BEGIN_REQUEST and PARAMS) is taken whole, and
checked, before libfcgi reads it (fcgi/intake.c, fcgi/prelude.c):

- a name-value length that would overflow libfcgi's allocation closes the
  connection; the worker lives on and its other requests are answered;
- a prelude past 64 KiB is answered 431 in JSON, without the worker
  holding what was sent; one just under it is served;
- a record other than PARAMS inside the PARAMS stream (an abort, a second
  request), or a management record anywhere (libfcgi's answer to four
  GET_VALUES names overflows its stack), closes the connection: the
  request is not run, the worker lives on;
- a body is read whole before the request runs; one that takes the
  request past 64 KiB is read to its end, never by libfcgi, and answered
  413 (no route takes a body);
- a kept connection's request that has begun when the daemon is told to
  stop is still answered.

Raw FastCGI against `todos-fcgi --listen` (test_deadlines' daemon).
"""

import signal
import struct
import threading
import time

from harness import children
from test_deadlines import (FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN,
                            FCGI_STDOUT, answer_of, begin_request, connect, fcgi_body,
                            params_stream, parse_records, read_to_end, record,
                            start_daemon)  # noqa: F401 (a fixture)

FCGI_ABORT_REQUEST = 2
FCGI_GET_VALUES = 9
REQUEST_COMPLETE = 0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def get_in_thread(port, uri, results):
    """A whole GET on its own connection, answered into results[uri]."""
    def run():
        s = connect(port)
        try:
            s.sendall(begin_request() + params_stream(uri))
            data, _ = read_to_end(s, 10)
            results[uri] = answer_of(parse_records(data))
        finally:
            s.close()
    t = threading.Thread(target=run)
    t.start()
    return t


def test_an_overflowing_param_length_closes_only_that_connection(start_daemon, upstream):
    d = start_daemon(FCGI_THREADS=4)
    worker = children(d.pid)
    # A request of the same worker waiting on a slow upstream meanwhile.
    upstream.fault(path="/todos/9", mode="delay", delay_ms=800, times=1)
    results = {}
    t = get_in_thread(d.port, "/get_todos/9", results)
    time.sleep(0.2)
    for name_len, value_len in ((0xfffffffe, b"\x01"), (0xc0000000, b"\xc0\x00\x00\x00"),
                                (0xffffff00, b"\xff\xff\xff\x00")):
        s = connect(d.port)
        try:
            pair = struct.pack(">I", name_len) + value_len + b"x"
            s.sendall(begin_request() + record(FCGI_PARAMS, pair) + record(FCGI_PARAMS))
            data, closed = read_to_end(s, 3)
            assert closed is not None and data == b"", (hex(name_len), data)
        finally:
            s.close()
    t.join(10)
    status, _, body = results["/get_todos/9"]
    assert status == 200 and body == fcgi_body(8)
    assert children(d.pid) == worker, "the worker died"


def prelude_of(size):
    """BEGIN_REQUEST and PARAMS of a GET /get_todos/2 with one header
    HTTP_X_PAD making the PARAMS content about size bytes, in records of at
    most 32 KiB, as nginx splits them."""
    head = params_stream("/get_todos/2")
    pad = b"x" * max(0, size - 40)
    name = b"HTTP_X_PAD"
    pair = bytes([len(name)]) + struct.pack(">I", 0x80000000 | len(pad)) + name + pad
    records = b"".join(record(FCGI_PARAMS, pair[i:i + 32768])
                       for i in range(0, len(pair), 32768))
    # params_stream's own pairs, then the pad, then its empty PARAMS and STDIN.
    first = parse_records(head)[0][1]
    return (begin_request() + record(FCGI_PARAMS, first) + records + record(FCGI_PARAMS)
            + record(FCGI_STDIN))


def test_a_prelude_past_64_kib_is_431_and_one_below_is_served(start_daemon, upstream):
    d = start_daemon(FCGI_THREADS=2)
    worker = children(d.pid)[0]
    before = rss_kib(worker)
    s = connect(d.port)
    try:
        s.sendall(prelude_of(60 * 1024))
        data, closed = read_to_end(s, 5)
    finally:
        s.close()
    status, headers, body = answer_of(parse_records(data))
    assert status == 200 and body == fcgi_body(1)
    # 1 MiB claimed: the answer comes once the first 64 KiB are in.
    s = connect(d.port)
    try:
        try:
            s.sendall(prelude_of(1 << 20))
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed before all of it was sent
        data, closed = read_to_end(s, 5)
    finally:
        s.close()
    records = parse_records(data)
    status, headers, body = answer_of(records)
    assert status == 431, data
    assert headers["Content-Type"] == "application/json"
    assert body == b'{"error":"request headers too large","status":431}'
    assert int(headers["Content-Length"]) == len(body)
    assert records[-1] == (FCGI_END_REQUEST, struct.pack(">IB3x", 0, REQUEST_COMPLETE))
    assert upstream.count("/todos/2") == 1  # the served one only
    assert rss_kib(worker) - before < 4096, "the worker holds what the client sent"


def test_a_record_inside_the_params_stream_closes_without_running(start_daemon, upstream):
    d = start_daemon(FCGI_THREADS=2)
    first = parse_records(params_stream("/get_todos/11"))[0][1]
    for intruder in (record(FCGI_ABORT_REQUEST), record(FCGI_STDOUT, b"x"),
                     record(FCGI_PARAMS, b"", request_id=2),
                     record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0), request_id=2)):
        s = connect(d.port)
        try:
            s.sendall(begin_request() + record(FCGI_PARAMS, first[:20]) + intruder
                      + record(FCGI_PARAMS, first[20:]) + record(FCGI_PARAMS)
                      + record(FCGI_STDIN))
            data, closed = read_to_end(s, 3)
            assert closed is not None and data == b"", (intruder, data)
        finally:
            s.close()
    assert upstream.count("/todos/11") == 0


def test_a_kept_connections_begun_request_is_answered_through_a_stop(start_daemon):
    d = start_daemon(FCGI_THREADS=2)

    def kept(uri):
        return (record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 1))  # FCGI_KEEP_CONN
                + params_stream(uri))

    def answer(s):
        data = b""
        while not any(k == FCGI_END_REQUEST for k, _ in parse_records(data)):
            s.settimeout(5)
            chunk = s.recv(65536)
            assert chunk, f"closed with no answer: {data!r}"
            data += chunk
        return answer_of(parse_records(data))

    s = connect(d.port)
    try:
        for i in (1, 2):
            s.sendall(kept(f"/get_todos/{i}"))
            status, _, body = answer(s)
            assert status == 200 and body == fcgi_body(i - 1)
        part = kept("/get_todos/3")
        s.sendall(part[:30])
        time.sleep(0.3)
        d.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        s.sendall(part[30:])
        status, _, body = answer(s)
        assert status == 200 and body == fcgi_body(2)
    finally:
        s.close()
    d.wait(20)


def pair(name, value):
    return bytes([len(name), len(value)]) + name + value


def test_management_records_close_without_harm(start_daemon, upstream):
    d = start_daemon(FCGI_THREADS=2)
    worker = children(d.pid)
    get_values = record(FCGI_GET_VALUES, pair(b"FCGI_MPXS_CONNS", b"") * 4, request_id=0)
    stream = params_stream("/get_todos/12")
    params, stdin = stream[:-8], stream[-8:]  # all PARAMS records; the empty STDIN
    for sent in (get_values + begin_request() + stream,
                 begin_request() + params + record(FCGI_STDIN, b"x") + get_values + stdin):
        s = connect(d.port)
        try:
            s.sendall(sent)
            data, closed = read_to_end(s, 3)
            assert closed is not None and data == b"", data
        finally:
            s.close()
    assert upstream.count("/todos/12") == 0
    assert children(d.pid) == worker, "the worker died"
    status, _, body = answer_of(parse_records(exchange(d.port, "/get_todos/12")))
    assert status == 200 and body == fcgi_body(11)


def exchange(port, uri):
    s = connect(port)
    try:
        s.sendall(begin_request() + params_stream(uri))
        data, _ = read_to_end(s, 5)
        return data
    finally:
        s.close()


def post(uri, body, keep=0):
    """A POST of body to uri, in STDIN records of 32 KiB at most."""
    def p(k, v):
        k, v = k.encode(), v.encode()
        return bytes([len(k), len(v)]) + k + v
    params = b"".join(p(k, v) for k, v in {
        "REQUEST_METHOD": "POST", "REQUEST_URI": uri, "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(len(body)), "SCRIPT_NAME": ""}.items())
    chunks = b"".join(record(FCGI_STDIN, body[i:i + 32768]) for i in range(0, len(body), 32768))
    return (record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, keep)) + record(FCGI_PARAMS, params)
            + record(FCGI_PARAMS) + chunks + record(FCGI_STDIN))


def test_a_body_is_read_whole_or_not_at_all(start_daemon):
    d = start_daemon(FCGI_THREADS=2)
    # Small, on a kept connection: 405, and the connection serves the next.
    s = connect(d.port)
    try:
        s.sendall(post("/get_todos/1", b"a=1" * 100, keep=1))
        data = b""
        while not any(k == FCGI_END_REQUEST for k, _ in parse_records(data)):
            s.settimeout(5)
            chunk = s.recv(65536)
            assert chunk, data
            data += chunk
        status, headers, _ = answer_of(parse_records(data))
        assert status == 405 and headers["Allow"] == "GET, HEAD"
        s.sendall(record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))
                  + params_stream("/get_todos/2"))
        data, closed = read_to_end(s, 5)
        status, _, body = answer_of(parse_records(data))
        assert status == 200 and body == fcgi_body(1)
    finally:
        s.close()
    # 256 KiB: read to its end, then answered 413.
    s = connect(d.port)
    try:
        s.sendall(post("/get_todos/1", b"x" * (256 << 10)))
        data, closed = read_to_end(s, 5)
    finally:
        s.close()
    records = parse_records(data)
    status, headers, body = answer_of(records)
    assert status == 413 and body == b'{"error":"request body too large","status":413}'
    assert int(headers["Content-Length"]) == len(body)
    assert records[-1] == (FCGI_END_REQUEST, struct.pack(">IB3x", 0, REQUEST_COMPLETE))
