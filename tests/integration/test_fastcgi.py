"""The FastCGI roles, spoken raw to the `--listen` daemon.

The responder plays the RESPONDER role only.  A BEGIN_REQUEST in another
role (AUTHORIZER 2, FILTER 3: lighttpd's mode "authorizer" sends the
first) gets END_REQUEST with protocolStatus FCGI_UNKNOWN_ROLE and no
output, as FastCGI 1.0 section 5.5 says, and the worker lives on.
"""

import json
import os
import socket
import struct
import subprocess

import pytest

from harness import RESPONDER, TODOS, children, free_port, stop_process, tcp_accepts, wait_for

BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6
RESPONDER_ROLE, AUTHORIZER, FILTER = 1, 2, 3
UNKNOWN_ROLE, REQUEST_COMPLETE = 3, 0


def record(kind, content, rid=1):
    return struct.pack(">BBHHBB", 1, kind, rid, len(content), 0, 0) + content


def pair(name, value):
    name, value = name.encode(), value.encode()
    return bytes([len(name), len(value)]) + name + value


def exchange(port, role, uri="/get_todos/1"):
    """One request in role; returns [(type, content)] until the close."""
    params = b"".join(pair(k, v) for k, v in {
        "REQUEST_METHOD": "GET", "REQUEST_URI": uri, "SERVER_PROTOCOL": "HTTP/1.1",
        "GATEWAY_INTERFACE": "CGI/1.1", "SCRIPT_NAME": "", "QUERY_STRING": ""}.items())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(record(BEGIN, struct.pack(">HB5x", role, 0)) + record(PARAMS, params)
                  + record(PARAMS, b"") + record(STDIN, b""))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    out = []
    while data:
        assert len(data) >= 8, data
        _, kind, rid, length, pad, _ = struct.unpack(">BBHHBB", data[:8])
        assert rid == 1
        out.append((kind, data[8:8 + length]))
        data = data[8 + length + pad:]
    return out


@pytest.fixture
def daemon(tmp_path, redis, upstream):
    port = free_port()
    env = dict(os.environ, REDIS_URL=redis.url, UPSTREAM_URL=upstream.url,
               LOG_LEVEL="info", CIRCUIT_FAILURES="1000000")
    log = open(tmp_path / "daemon.log", "wb")
    proc = subprocess.Popen([RESPONDER, "--listen", f"127.0.0.1:{port}", "--workers", "1"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: tcp_accepts(port), 10, "the daemon to listen")
    proc.port, proc.log = port, tmp_path / "daemon.log"
    yield proc
    stop_process(proc)
    log.close()


@pytest.mark.parametrize("role", [AUTHORIZER, FILTER, 99])
def test_other_roles_get_unknown_role_and_no_output(daemon, upstream, role):
    workers = children(daemon.pid)
    records = exchange(daemon.port, role)
    assert records == [(END, struct.pack(">IB3x", 0, UNKNOWN_ROLE))]
    assert upstream.count() == 0
    # The same worker answers the next request, as a responder.
    records = exchange(daemon.port, RESPONDER_ROLE)
    stdout = b"".join(c for k, c in records if k == STDOUT)
    head, _, body = stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"Status: 200 OK\r\n"), head
    assert json.loads(body) == TODOS[0]
    assert records[-1] == (END, struct.pack(">IB3x", 0, REQUEST_COMPLETE))
    assert children(daemon.pid) == workers
    with open(daemon.log, "rb") as f:
        assert f"FastCGI role {role} refused (only RESPONDER, 1)".encode() in f.read()
