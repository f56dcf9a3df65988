"""FastCGI connection deadlines of the `--listen` daemon (issue 8):
FCGI_IO_TIMEOUT_MS bounds the arrival of a whole request and every write of
a FastCGI connection, and
FCGI_THREADS request threads per worker keep clients that are idle, slow or
not reading from stopping anyone else.

The daemon is started here by itself (`todos-fcgi --listen 127.0.0.1:PORT
--workers 1`, in this test's directory, on the module's Redis and fake
upstream) and spoken to in raw FastCGI, so each connection does exactly what
the test says (no web server in between to buffer or time out first).
"""

import json
import os
import select
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from harness import RESPONDER, TODOS, children, free_port, wait_for
from test_daemon import fcgi_get

FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT = 1, 3, 4, 5, 6


def record(kind, content=b"", request_id=1):
    return struct.pack(">BBHHBB", 1, kind, request_id, len(content), 0, 0) + content


def begin_request():
    return record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))  # responder, close after


def params_stream(uri):
    """The PARAMS records of a GET for uri, the empty one that ends them
    included, and the empty STDIN."""
    def pair(name, value):
        n, v = name.encode(), value.encode()
        return bytes([len(n), len(v)]) + n + v
    body = b"".join(pair(k, v) for k, v in {
        "REQUEST_METHOD": "GET", "REQUEST_URI": uri, "SERVER_PROTOCOL": "HTTP/1.1",
        "GATEWAY_INTERFACE": "CGI/1.1", "SCRIPT_NAME": "", "QUERY_STRING": ""}.items())
    return record(FCGI_PARAMS, body) + record(FCGI_PARAMS) + record(FCGI_STDIN)


def parse_records(data):
    """[(type, content)] of the whole records in data (a cut one at the end
    is left out)."""
    out = []
    while len(data) >= 8:
        _, kind, _, length, pad, _ = struct.unpack(">BBHHBB", data[:8])
        if len(data) < 8 + length + pad:
            break
        out.append((kind, data[8:8 + length]))
        data = data[8 + length + pad:]
    return out


def answer_of(records):
    """(status, headers, body) of a complete answer's STDOUT records."""
    out = b"".join(c for k, c in records if k == FCGI_STDOUT)
    head, _, body = out.partition(b"\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
    return int(headers["Status"].split()[0]), headers, body


def connect(port, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect
    s.connect(("127.0.0.1", port))
    return s


def read_to_end(s, timeout):
    """(bytes, seconds until the daemon closed: EOF or reset) or (bytes, None)
    if it was still open after timeout."""
    start = time.monotonic()
    data = bytearray()
    while True:
        left = start + timeout - time.monotonic()
        if left <= 0:
            return bytes(data), None
        s.settimeout(left)
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            return bytes(data), None
        except ConnectionResetError:
            return bytes(data), time.monotonic() - start
        if not chunk:
            return bytes(data), time.monotonic() - start
        data += chunk


def closed_now(s):
    """Has the daemon closed s (readable with EOF or a reset)?"""
    if not select.select([s], [], [], 0)[0]:
        return False
    try:
        return s.recv(65536, socket.MSG_PEEK) == b""
    except ConnectionResetError:
        return True


def timed_fcgi_get(port, uri, timeout):
    """(status, headers, body, seconds); status None if no answer in timeout."""
    start = time.monotonic()
    try:
        status, headers, body = fcgi_get(port, uri, timeout=timeout)
    except (socket.timeout, ConnectionError):
        status, headers, body = None, {}, b""
    return status, headers, body, time.monotonic() - start


@pytest.fixture
def start_daemon(tmp_path, redis, upstream):
    """Starts `todos-fcgi --listen 127.0.0.1:PORT --workers 1` with env on
    top of the module's Redis and upstream; stopped by PID at the end."""
    started = []

    def start(**env):
        port = free_port()
        full = dict(os.environ, REDIS_URL=redis.url, UPSTREAM_URL=upstream.url,
                    LOG_LEVEL="info", CIRCUIT_FAILURES="1000000")
        full.update({k: str(v) for k, v in env.items()})
        log = open(tmp_path / f"daemon-{port}.log", "wb")
        proc = subprocess.Popen([RESPONDER, "--listen", f"127.0.0.1:{port}", "--workers", "1"],
                                env=full, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        started.append((proc, log))
        wait_for(lambda: len(children(proc.pid)) == 1, 10, "the worker")
        # Ready once it answers; the probe is a whole request, so it
        # leaves no connection behind.
        wait_for(lambda: timed_fcgi_get(port, "/health", 2)[0] == 200, 10, "the daemon to answer")
        proc.port = port
        return proc

    yield start
    for proc, log in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


# --- a. idle and slow clients do not stop others ---------------------------

N = 8


def test_idle_and_slow_drip_connections_do_not_stop_a_request(start_daemon):
    d = start_daemon(FCGI_THREADS=32)  # FCGI_IO_TIMEOUT_MS: the default, 30 s
    idle = [connect(d.port) for _ in range(N)]
    drips = [connect(d.port) for _ in range(N)]
    stream = params_stream("/get_todos/3")
    for s in drips:
        s.sendall(begin_request())
    stop, dropped = threading.Event(), []

    def drip():
        # One byte of PARAMS every 0.5 s on each slow connection.
        for i in range(len(stream)):
            if stop.wait(0.5):
                return
            for s in drips:
                try:
                    s.sendall(stream[i:i + 1])
                except OSError:
                    dropped.append(s)
    t = threading.Thread(target=drip, daemon=True)
    t.start()
    try:
        time.sleep(0.6)  # every connection made, a first byte dripped
        for uri, kind, todo in (("/get_todos/1", "MISS", 0), ("/get_todos/1", "HIT", 0),
                                ("/get_todos/2", "MISS", 1)):
            status, headers, body, took = timed_fcgi_get(d.port, uri, timeout=1.5)
            assert status == 200, f"{uri}: no answer in {took:.2f}s beside {N} idle " \
                                  f"and {N} slow connections"
            assert took < 1.0, (uri, took)
            assert headers["X-Cache"] == kind and body == fcgi_body(todo)
        # Within the 30 s deadline nobody was dropped.
        assert not dropped and not any(closed_now(s) for s in idle + drips)
    finally:
        stop.set()
        t.join(2)
        for s in idle + drips:
            s.close()


def fcgi_body(i):
    """The compact JSON the responder answers for TODOS[i]."""
    return json.dumps(TODOS[i], separators=(",", ":"), ensure_ascii=False).encode()


# --- b. the read deadline --------------------------------------------------

def thread_serves_again(port, uri, i):
    """With FCGI_THREADS=1: the thread that dropped a client answers the
    next request at once, even though that client has not closed its end
    (a dropped client is not waited for: no lingering close that holds the
    thread until the client's EOF)."""
    status, headers, body, took = timed_fcgi_get(port, uri, timeout=3)
    assert status == 200 and took < 1.0, \
        f"the next request took {took:.2f}s (status {status}): the thread is held " \
        f"after the drop while the dropped client keeps its end open"
    assert body == fcgi_body(i)


def test_an_idle_connection_is_closed_after_the_read_deadline(start_daemon):
    d = start_daemon(FCGI_IO_TIMEOUT_MS=500, FCGI_THREADS=1)
    s = connect(d.port)
    try:
        data, closed = read_to_end(s, 3)
        # 500 ms after the daemon took it; 2 s would not be the deadline.
        assert closed is not None, "an idle connection still open after 3 s"
        assert 0.45 <= closed <= 2.0, closed
        assert data == b""
        thread_serves_again(d.port, "/get_todos/4", 3)
    finally:
        s.close()


def test_a_request_must_arrive_whole_within_the_deadline(start_daemon):
    d = start_daemon(FCGI_IO_TIMEOUT_MS=500, FCGI_THREADS=1)
    stream = params_stream("/get_todos/5")
    # In pieces, but whole within the deadline: served.
    s = connect(d.port)
    try:
        s.sendall(begin_request())
        for i in range(4):
            time.sleep(0.05)
            s.sendall(stream[i:i + 1])
        s.sendall(stream[4:])
        data, closed = read_to_end(s, 3)
    finally:
        s.close()
    assert closed is not None
    status, headers, body = answer_of(parse_records(data))
    assert status == 200 and body == fcgi_body(4)
    # A byte every 100 ms, never a gap near the deadline: dropped all the
    # same, ~500 ms after the connection was taken (each read's own
    # deadline alone would let it hold the thread for ever).
    s = connect(d.port)
    try:
        s.sendall(begin_request())
        closed = dropped_while_dripping(s, lambda i: stream[i:i + 1])
        assert closed is not None, "a client dripping a byte every 100 ms still connected after 3 s"
        assert 0.45 <= closed <= 1.5, closed
        thread_serves_again(d.port, "/get_todos/6", 5)
    finally:
        s.close()
    # The same with the body: headers whole, STDIN a byte every 100 ms.
    s = connect(d.port)
    try:
        s.sendall(begin_request() + stream[:-8])  # all but the empty STDIN
        closed = dropped_while_dripping(s, lambda i: record(FCGI_STDIN, b"x"))
        assert closed is not None, "a body dripping a byte every 100 ms still connected after 3 s"
        assert 0.45 <= closed <= 1.5, closed
        thread_serves_again(d.port, "/get_todos/7", 6)
    finally:
        s.close()


def dropped_while_dripping(s, piece):
    """Sends piece(i) every 100 ms, i = 0, 1, ..., for 3 s at most; the
    seconds until the daemon closed s, or None if it never did."""
    start = time.monotonic()
    for i in range(30):
        time.sleep(0.1)
        if closed_now(s):
            return time.monotonic() - start
        s.sendall(piece(i))
    return None


# --- c. the write deadline -------------------------------------------------

def send_buffer_max():
    """The most a TCP socket here can hold unsent: autotuning's limit, or
    twice the SO_SNDBUF limit (the kernel doubles the value it is given)."""
    def field(path, i):
        with open(path) as f:
            return int(f.read().split()[i])
    return max(field("/proc/sys/net/ipv4/tcp_wmem", 2), 2 * field("/proc/sys/net/core/wmem_max", 0))


def server_side_state(local_port, remote_port):
    """The TCP state (hex, "01" established) of the socket 127.0.0.1:local_port
    -> remote_port, from /proc/net/tcp; None when there is none."""
    with open("/proc/net/tcp") as f:
        for line in f.read().splitlines()[1:]:
            fields = line.split()
            if (int(fields[1].split(":")[1], 16) == local_port
                    and int(fields[2].split(":")[1], 16) == remote_port):
                return fields[3]
    return None


def test_a_client_that_does_not_read_is_dropped_after_the_write_deadline(start_daemon, upstream):
    # The answer must be larger than anything the kernel can buffer between
    # the daemon and a client that never reads, or no write would ever
    # block: the daemon's send buffer (at most send_buffer_max()) plus
    # the client's receive buffer (pinned small below).  The body is a
    # valid JSON array of that size from the fake upstream's oversize
    # fault, under UPSTREAM_MAX_BYTES.  Redis is down (nothing listens at
    # REDIS_URL), so it is a BYPASS, never stored: a stored entry of that
    # size would get its gzip form made by zopfli, ~2.6 s of CPU per MB.
    size = send_buffer_max() + (2 << 20)
    upstream.fault(path="/todos/7", mode="oversize", bytes=size)
    d = start_daemon(FCGI_IO_TIMEOUT_MS=1000, FCGI_THREADS=1,
                     REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
                     UPSTREAM_MAX_BYTES=size + (1 << 20), UPSTREAM_TIMEOUT_MS=20000)
    big = connect(d.port, rcvbuf=16384)
    try:
        big.sendall(begin_request() + params_stream("/get_todos/7"))
        # The clock starts when the answer starts to arrive (seen without
        # reading it: select, no recv): the fetch and JSON check of 10 MB
        # before that take from 0.3 s to several on a busy machine.  The
        # buffers fill within milliseconds, then the daemon's writes block.
        assert select.select([big], [], [], 20)[0], "no answer started in 20 s"
        started = time.monotonic()
        mine = big.getsockname()[1]
        assert server_side_state(d.port, mine) == "01"
        # The daemon drops the connection FCGI_IO_TIMEOUT_MS after its last
        # write went through: its end of it leaves ESTABLISHED (FIN_WAIT1
        # with the unsent data, or gone after a reset).
        dropped = None
        while time.monotonic() - started < 4:
            if server_side_state(d.port, mine) != "01":
                dropped = time.monotonic() - started
                break
            time.sleep(0.02)
        assert dropped is not None, "a client that reads nothing still connected after 4 s"
        assert 1.0 - 0.05 <= dropped <= 1.0 + 1.5, dropped
        thread_serves_again(d.port, "/get_todos/8", 7)
        # What the kernel still held for big, then the end of the stream:
        # never the rest of the answer or its END_REQUEST.
        data, closed = read_to_end(big, 10)
    finally:
        big.close()
    assert closed is not None, "the stream of the dropped client did not end"
    records = parse_records(data)
    assert FCGI_END_REQUEST not in [k for k, _ in records]
    # (Possibly nothing at all, if the daemon reset the connection.)
    got = sum(len(c) for k, c in records if k == FCGI_STDOUT)
    assert got < size, (got, size)
