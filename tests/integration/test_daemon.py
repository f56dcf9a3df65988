"""todos-fcgi --listen: the FastCGI daemon on its own, spoken to directly
with a minimal FastCGI client (no web server in between)."""

import os
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from harness import RESPONDER, TODOS, children, free_port, pid_alive, tcp_accepts, wait_for


def fcgi_get(port, uri, method="GET", timeout=10):
    """One FastCGI request; returns (status, headers dict, body bytes)."""
    def record(kind, content):
        return struct.pack(">BBHHBB", 1, kind, 1, len(content), 0, 0) + content

    def pair(name, value):
        n, v = name.encode(), value.encode()
        ln = lambda b: bytes([len(b)]) if len(b) < 128 else struct.pack(">I", len(b) | 1 << 31)
        return ln(n) + ln(v) + n + v

    params = b"".join(pair(k, v) for k, v in {
        "REQUEST_METHOD": method, "REQUEST_URI": uri, "SERVER_PROTOCOL": "HTTP/1.1",
        "GATEWAY_INTERFACE": "CGI/1.1", "SCRIPT_NAME": "", "QUERY_STRING": ""}.items())
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(record(1, struct.pack(">HB5x", 1, 0)) + record(4, params) + record(4, b"")
                  + record(5, b""))
        data, out = b"", b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        while len(data) >= 8:
            _, kind, _, length, pad, _ = struct.unpack(">BBHHBB", data[:8])
            content, data = data[8:8 + length], data[8 + length + pad:]
            if kind == 6:
                out += content
    head, _, body = out.partition(b"\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
    return int(headers["Status"].split()[0]), headers, body


@pytest.fixture
def daemon(tmp_path, redis, upstream):
    port = free_port()
    env = dict(os.environ, REDIS_URL=redis.url, UPSTREAM_URL=upstream.url, LOG_LEVEL="info",
               CIRCUIT_FAILURES="1000000")
    log = open(tmp_path / "daemon.log", "wb")
    proc = subprocess.Popen([RESPONDER, "--listen", f"127.0.0.1:{port}", "--workers", "3"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: len(children(proc.pid)) == 3, 10, "3 workers")

    wait_for(lambda: tcp_accepts(port), 10, "the daemon to listen")
    proc.port = port
    proc.logpath = tmp_path / "daemon.log"
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    log.close()


def test_daemon_serves_fastcgi_directly(daemon):
    status, headers, body = fcgi_get(daemon.port, "/get_todos/1")
    assert status == 200 and headers["X-Cache"] == "MISS"
    status, headers, body = fcgi_get(daemon.port, "/get_todos/1")
    assert headers["X-Cache"] == "HIT"
    assert body == b'{"userId":1,"id":1,"title":"delectus aut autem","completed":false}'
    assert fcgi_get(daemon.port, "/nope")[0] == 404


def test_a_killed_worker_is_replaced(daemon):
    workers = children(daemon.pid)
    os.kill(workers[0], signal.SIGKILL)
    wait_for(lambda: len(children(daemon.pid)) == 3 and workers[0] not in children(daemon.pid),
             5, "a new worker")
    for i in range(6):
        assert fcgi_get(daemon.port, f"/get_todos/{i + 1}")[0] == 200


def test_sigterm_lets_the_request_in_hand_finish(daemon, upstream):
    upstream.fault(path="/todos/9", mode="delay", delay_ms=800)
    result = {}
    t = threading.Thread(target=lambda: result.update(r=fcgi_get(daemon.port, "/get_todos/9")))
    t.start()
    wait_for(lambda: upstream.count("/todos/9") == 1, 5, "the request to reach the upstream")
    workers = children(daemon.pid)
    daemon.send_signal(signal.SIGTERM)
    t.join(10)
    status, _, body = result["r"]
    assert status == 200 and body
    assert daemon.wait(10) == 0
    assert not any(pid_alive(p) for p in workers)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", daemon.port), timeout=1)


def test_unix_socket_listener(tmp_path, redis, upstream):
    path = tmp_path / "d.sock"
    env = dict(os.environ, REDIS_URL=redis.url, UPSTREAM_URL=upstream.url)
    proc = subprocess.Popen([RESPONDER, "--listen", f"unix:{path}", "--workers", "1"], env=env)
    try:
        wait_for(path.exists, 10, "the socket")
        assert oct(os.stat(path).st_mode & 0o777) == "0o666"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    assert not path.exists()


@pytest.mark.parametrize("args", [["--workers", "0", "--listen", ":1"], ["--workers", "x", "--listen", ":1"],
                                  ["--workers", "3"], ["--listen"], ["--bogus"]])
def test_bad_command_lines_exit_64(args):
    r = subprocess.run([RESPONDER, *args], capture_output=True, timeout=10)
    assert r.returncode == 64, (args, r)


def test_help_and_version():
    r = subprocess.run([RESPONDER, "--help"], capture_output=True, timeout=10)
    assert r.returncode == 0 and b"--listen" in r.stdout and b"--workers" in r.stdout
    r = subprocess.run([RESPONDER, "--version"], capture_output=True, timeout=10)
    assert r.returncode == 0 and r.stdout.startswith(b"todos-fcgi ")
