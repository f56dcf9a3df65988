#!/usr/bin/python3
"""A local stand-in for the JSONPlaceholder todos API, for tests and demos.

Serves GET/HEAD /todos and /todos/<id> as https://jsonplaceholder.typicode.com
does, and lets tests count requests, inject faults, override answers and change
latency through /__control/... endpoints.  See README.md beside this file.

Python 3 standard library only.
"""

import argparse
import base64
import hashlib
import json
import math
import os
import random
import re
import select
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

CONTROL_PREFIX = "/__control/"
JSON_TYPE = "application/json; charset=utf-8"
CACHE_CONTROL = "max-age=43200"
FAULT_MODES = ("delay", "status", "invalid_json", "reset", "hang", "oversize")
INJECTED_ERROR = b'{"error": "injected"}'
TRUNCATED_JSON = b'{"userId": 1, "id": 1, "title": '
HANG_SECONDS = 120


def pretty(obj):
    """obj as the live API prints it: 2-space indented JSON, UTF-8."""
    return json.dumps(obj, indent=2, ensure_ascii=False).encode("utf-8")


def weak_etag(body):
    return 'W/"%s"' % hashlib.sha1(body).hexdigest()


def json_filler(size, todo=False):
    """Yield, in pieces, valid JSON exactly size (>= 2) bytes long, shaped
    as the path's answer: for the list an array of objects {"f": "xx..."};
    for a todo (todo=True) an object {"filler": [strings]}."""
    if todo:
        if size < 13:  # too small for the array: {} padded with spaces
            yield b"{" + b" " * (size - 2) + b"}"
            return
        yield b'{"filler":'
        yield from json_array(size - 11, b'"' + b"x" * 62 + b'",')
        yield b"}"
    else:
        yield from json_array(size, b'{"f":"' + b"x" * 55 + b'"},')


def json_array(size, unit):
    """Yield a JSON array of size (>= 2) bytes: unit (one element and its
    comma) repeated, then JSON whitespace up to size."""
    count = (size - 1) // len(unit)  # so that "[" + count * unit - "," + "]" <= size
    items_len = max(count * len(unit) - 1, 0)  # the last element has no comma
    yield b"["
    # A block holds whole units, so consecutive prefixes of it continue the
    # element sequence seamlessly.
    block = unit * 1000
    left = items_len
    while left:
        piece = block[:left]
        yield piece
        left -= len(piece)
    # Pad with JSON whitespace up to the exact size.
    yield b" " * (size - 2 - items_len) + b"]"


class ControlError(Exception):
    """A malformed control request; the message is returned with a 400."""


def json_object(body):
    try:
        spec = json.loads(body)
    except ValueError:  # also covers invalid UTF-8
        raise ControlError("body is not valid JSON") from None
    if not isinstance(spec, dict):
        raise ControlError("body must be a JSON object")
    return spec


def number(spec, name, low, high=None, integer=False, default=None):
    """spec[name] (or default when absent) if it is a finite number in [low, high]."""
    value = spec.get(name, default)
    kinds = int if integer else (int, float)
    # bool is an int subclass in Python; true/false are not numbers here.
    if (isinstance(value, bool) or not isinstance(value, kinds)
            or not math.isfinite(value) or value < low
            or (high is not None and value > high)):
        kind = "an integer" if integer else "a number"
        bounds = f">= {low}" if high is None else f"in {low}..{high}"
        raise ControlError(f"{name} must be {kind} {bounds}")
    return value


def request_path(spec, wildcard):
    path = spec.get("path")
    if not isinstance(path, str) or not (path.startswith("/") or (wildcard and path == "*")):
        raise ControlError('path must be a string starting with "/"'
                           + (' or "*"' if wildcard else ""))
    return path


def parse_fault(spec):
    mode = spec.get("mode")
    if mode not in FAULT_MODES:
        raise ControlError("mode must be one of " + ", ".join(FAULT_MODES))
    fault = {"path": request_path(spec, wildcard=True), "mode": mode, "times": None}
    if "times" in spec:
        fault["times"] = number(spec, "times", 1, integer=True)
    if mode == "delay":
        fault["delay_ms"] = number(spec, "delay_ms", 0)
    elif mode == "status":
        fault["status"] = number(spec, "status", 100, 599, integer=True)
    elif mode == "oversize":
        fault["bytes"] = number(spec, "bytes", 2, integer=True)
        fault["chunked"] = spec.get("chunked", False)
        if not isinstance(fault["chunked"], bool):
            raise ControlError("chunked must be true or false")
    return fault


def parse_override(spec):
    """The body is "body" (text, sent as UTF-8) or "body_base64" (raw bytes,
    for answers that are not valid UTF-8)."""
    if isinstance(spec.get("body_base64"), str):
        try:
            raw = base64.b64decode(spec["body_base64"], validate=True)
        except ValueError:
            raise ControlError("body_base64 is not base64") from None
    elif isinstance(spec.get("body"), str):
        raw = spec["body"].encode("utf-8")
    else:
        raise ControlError("body must be a string (or body_base64)")
    status = number(spec, "status", 100, 599, integer=True, default=200)
    return request_path(spec, wildcard=False), status, raw


def parse_latency(spec):
    low, high = number(spec, "min_ms", 0), number(spec, "max_ms", 0)
    if low > high:
        raise ControlError("min_ms must not exceed max_ms")
    return low, high


class State:
    """What the handler threads share.  Mutable fields are only touched under lock."""

    def __init__(self, todos, latency_ms):
        # Immutable after construction: read without the lock.
        self.todos_body = pretty(todos)
        self.todo_bodies = {str(todo["id"]): pretty(todo) for todo in todos}

        self.lock = threading.Lock()
        self.latency_ms = latency_ms
        # Bumped by every reset, so that a kept-alive connection used again
        # after a reset is counted again (see count()).
        self.generation = 0
        # Requests being answered now (id -> {"path", "client_port"}), kept
        # across resets; the peak is per reset.
        self.in_flight = {}
        self.next_flight = 0
        self.reset()

    def reset(self):
        """Forget counts, faults and overrides; the latency stays as it is."""
        with self.lock:
            self.generation += 1
            self.total = 0
            self.requests = {}
            self.connections = 0
            self.faults = []  # oldest first
            self.overrides = {}  # path -> (status, body)
            self.peak = len(self.in_flight)

    def count(self, path, connection_generation):
        """Count a request on path, and its connection if not yet counted in
        this generation; returns the generation the connection is now counted in."""
        with self.lock:
            self.total += 1
            self.requests[path] = self.requests.get(path, 0) + 1
            if connection_generation != self.generation:
                self.connections += 1
            return self.generation

    def stats(self):
        with self.lock:
            return {"total": self.total, "requests": dict(self.requests),
                    "connections": self.connections}

    def begin(self, path, client_port):
        """Notes a request on path as in flight; returns its id for end()."""
        with self.lock:
            self.next_flight += 1
            self.in_flight[self.next_flight] = {"path": path, "client_port": client_port}
            self.peak = max(self.peak, len(self.in_flight))
            return self.next_flight

    def end(self, flight):
        with self.lock:
            self.in_flight.pop(flight, None)

    def flights(self):
        with self.lock:
            return {"in_flight": sorted(self.in_flight.values(),
                                        key=lambda f: (f["path"], f["client_port"])),
                    "peak": self.peak}

    def add_fault(self, fault):
        with self.lock:
            self.faults.append(fault)

    def take_fault(self, path):
        """The newest fault matching path, or None; uses up one of its times."""
        with self.lock:
            for i in range(len(self.faults) - 1, -1, -1):
                fault = self.faults[i]
                if fault["path"] in (path, "*"):
                    if fault["times"] is not None:
                        fault["times"] -= 1
                        if fault["times"] == 0:
                            del self.faults[i]
                    return dict(fault)
        return None

    def set_override(self, path, status, body):
        with self.lock:
            self.overrides[path] = (status, body)

    def set_latency(self, low, high):
        with self.lock:
            self.latency_ms = (low, high)

    def answer(self, path):
        """(status, body, latency in seconds) of the normal answer for path."""
        with self.lock:
            override = self.overrides.get(path)
            latency = random.uniform(*self.latency_ms) / 1000
        if override is not None:
            return (*override, latency)
        if path == "/todos":
            return 200, self.todos_body, latency
        body = None
        if path.startswith("/todos/"):
            body = self.todo_bodies.get(path[len("/todos/"):])
        if body is None:
            return 404, b"{}", latency
        return 200, body, latency


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle
    # holds the body back ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    server_version = "fake-jsonplaceholder"

    def setup(self):
        super().setup()
        self.generation = None  # State generation this connection was counted in

    def log_message(self, format, *args):
        if not self.server.quiet:
            super().log_message(format, *args)

    def do_GET(self):
        try:
            body = self.read_body()
            if body is None:
                return
            path = urlsplit(self.path).path
            if path.startswith(CONTROL_PREFIX):
                self.control(path, body)
            else:
                flight = self.server.state.begin(path, self.client_address[1])
                try:
                    self.upstream(path)
                finally:
                    self.server.state.end(flight)
        except (BrokenPipeError, ConnectionResetError):
            # The client went away mid-answer (timed out, or gave up on an
            # oversize body): nothing to report.
            self.close_connection = True

    do_HEAD = do_POST = do_GET

    def read_body(self):
        """The request body, or None after answering 400 to a bad Content-Length."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.send_error(400, "Bad Content-Length")  # also closes the connection
            return None
        return self.rfile.read(length)

    def send_payload(self, status, body, cacheable=True, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", JSON_TYPE)
        if cacheable:
            self.send_header("ETag", weak_etag(body))
            self.send_header("Cache-Control", CACHE_CONTROL)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # --- the emulated API --------------------------------------------------

    def upstream(self, path):
        state = self.server.state
        self.generation = state.count(path, self.generation)
        if self.command == "POST":
            self.send_payload(405, b"{}", headers=[("Allow", "GET, HEAD")])
            return
        fault = state.take_fault(path)
        if fault is not None and fault["mode"] != "delay":
            getattr(self, "fault_" + fault["mode"])(fault)
            return
        if fault is not None:
            time.sleep(fault["delay_ms"] / 1000)
        status, body, latency = state.answer(path)
        time.sleep(latency)
        self.send_payload(status, body)

    def fault_status(self, fault):
        self.send_payload(fault["status"], INJECTED_ERROR, cacheable=False)

    def fault_invalid_json(self, fault):
        self.send_payload(200, TRUNCATED_JSON)

    def fault_reset(self, fault):
        self.log_message('"%s" injected reset', self.requestline)
        # Lingering on with a zero timeout makes close() send an RST, not a FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # rfile holds a reference to the socket; the descriptor (and with it
        # the connection) is only closed once both are closed.
        self.rfile.close()
        self.connection.close()
        self.close_connection = True

    def fault_hang(self, fault):
        self.log_message('"%s" injected hang', self.requestline)
        deadline = time.monotonic() + HANG_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], left)
            # Readable with no data means the client closed the connection;
            # anything it sends meanwhile is discarded.
            if readable and not self.connection.recv(65536):
                break
        self.close_connection = True

    def fault_oversize(self, fault):
        chunked = fault["chunked"]
        self.send_response(200)
        self.send_header("Content-Type", JSON_TYPE)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(fault["bytes"]))
        self.end_headers()
        if self.command == "HEAD":
            return
        todo = urlsplit(self.path).path.startswith("/todos/")
        for piece in json_filler(fault["bytes"], todo):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    # --- the control API ---------------------------------------------------

    def control(self, path, body):
        state = self.server.state
        action = (self.command, path)
        status, answer = 200, {}
        try:
            if action in (("GET", "/__control/stats"), ("HEAD", "/__control/stats")):
                answer = state.stats()
            elif action in (("GET", "/__control/inflight"), ("HEAD", "/__control/inflight")):
                answer = state.flights()
            elif action == ("POST", "/__control/reset"):
                state.reset()
            elif action == ("POST", "/__control/fault"):
                state.add_fault(parse_fault(json_object(body)))
            elif action == ("POST", "/__control/override"):
                state.set_override(*parse_override(json_object(body)))
            elif action == ("POST", "/__control/latency"):
                state.set_latency(*parse_latency(json_object(body)))
            else:
                status, answer = 404, {"error": f"no control endpoint {self.command} {path}"}
        except ControlError as e:
            status, answer = 400, {"error": str(e)}
        self.send_payload(status, json.dumps(answer).encode("utf-8"), cacheable=False)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # Do not wait for handler threads when closing: a "hang" fault may hold
    # one for up to HANG_SECONDS.
    block_on_close = False
    request_queue_size = 128  # demos fire bursts of concurrent connections

    def __init__(self, address, state, quiet):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.state = state
        self.quiet = quiet
        super().__init__(address, Handler)

    def server_bind(self):
        # HTTPServer.server_bind also looks up the host's FQDN, which can stall
        # without a resolver and is not needed here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def latency_range(text):
    match = re.fullmatch(r"(\d+)-(\d+)", text)
    if not match or int(match[1]) > int(match[2]):
        raise argparse.ArgumentTypeError("expected MIN-MAX in milliseconds, MIN <= MAX")
    return int(match[1]), int(match[2])


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--port-file", metavar="PATH",
                        help="once listening, write the port number here (atomically)")
    parser.add_argument("--data", metavar="PATH",
                        default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "todos.json"),
                        help="JSON array of todos to serve (default: todos.json beside this script)")
    parser.add_argument("--latency-ms", metavar="MIN-MAX", type=latency_range, default=(0, 0),
                        help="delay every normal answer by a uniform random time in this range")
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    return parser.parse_args(argv)


def write_port_file(path, port):
    # Write then rename, so that a reader never sees a partial number.
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def main(argv):
    args = parse_args(argv)
    with open(args.data, "rb") as f:
        todos = json.load(f)
    server = Server((args.host, args.port), State(todos, args.latency_ms), args.quiet)

    def stop(signum, frame):
        # shutdown() waits for serve_forever() to return, and this handler runs
        # in the thread that serves: ask from another thread.
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        write_port_file(args.port_file, server.server_address[1])
    if not args.quiet:
        print(f"fake upstream listening on {args.host} port {server.server_address[1]}",
              file=sys.stderr)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
