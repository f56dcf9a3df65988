"""todos-fcgi --listen: the FastCGI daemon on its own, spoken to directly
with a minimal FastCGI client (no web server in between)."""

import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from harness import RESPONDER, TODOS, children, free_port, pid_alive, tcp_accepts, wait_for


def fcgi_get(port, uri, method="GET", timeout=10, source=None):
    """One FastCGI request (from source, an address, if given); returns
    (status, headers dict, body bytes)."""
    def record(kind, content):
        return struct.pack(">BBHHBB", 1, kind, 1, len(content), 0, 0) + content

    def pair(name, value):
        n, v = name.encode(), value.encode()
        ln = lambda b: bytes([len(b)]) if len(b) < 128 else struct.pack(">I", len(b) | 1 << 31)
        return ln(n) + ln(v) + n + v

    params = b"".join(pair(k, v) for k, v in {
        "REQUEST_METHOD": method, "REQUEST_URI": uri, "SERVER_PROTOCOL": "HTTP/1.1",
        "GATEWAY_INTERFACE": "CGI/1.1", "SCRIPT_NAME": "", "QUERY_STRING": ""}.items())
    with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                  source_address=(source, 0) if source else None) as s:
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


def start_daemon(tmp_path, redis, upstream, workers=3, name="daemon", **env):
    port = free_port()
    env = dict(os.environ, REDIS_URL=redis.url, UPSTREAM_URL=upstream.url, LOG_LEVEL="info",
               CIRCUIT_FAILURES="1000000", **env)
    log = open(tmp_path / f"{name}.log", "wb")
    proc = subprocess.Popen([RESPONDER, "--listen", f"127.0.0.1:{port}", "--workers",
                             str(workers)], env=env, stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: len(children(proc.pid)) == workers, 10, f"{workers} workers")
    wait_for(lambda: tcp_accepts(port), 10, "the daemon to listen")
    proc.port = port
    proc.logpath = tmp_path / f"{name}.log"
    proc.logfile = log
    return proc


def stop_daemon(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    proc.logfile.close()


def log_lines(proc, pattern):
    """The daemon's log lines that match pattern (a regular expression)."""
    with open(proc.logpath, encoding="utf-8", errors="replace") as f:
        return [line for line in f.read().splitlines() if re.search(pattern, line)]


@pytest.fixture
def daemon(tmp_path, redis, upstream):
    proc = start_daemon(tmp_path, redis, upstream)
    yield proc
    stop_daemon(proc)


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
    # How it ended, in words (not "exited (status 9)").
    assert log_lines(daemon, r"daemon_run: worker") == [
        f"todos-fcgi[{daemon.pid}]: warn: daemon_run: worker {workers[0]} killed by signal 9"]


def test_sighup_is_ignored(daemon):
    """SIGHUP: neither the parent nor a worker stops; nothing restarts."""
    workers = children(daemon.pid)
    daemon.send_signal(signal.SIGHUP)
    wait_for(lambda: log_lines(daemon, "SIGHUP"), 5, "the SIGHUP to be seen")
    time.sleep(0.5)
    assert daemon.poll() is None
    assert children(daemon.pid) == workers
    assert fcgi_get(daemon.port, "/get_todos/2")[0] == 200
    assert log_lines(daemon, "SIGHUP") == [
        f"todos-fcgi[{daemon.pid}]: info: daemon_run: SIGHUP ignored (the configuration "
        "is read at start only)"]


def test_workers_stop_when_the_parent_is_killed(tmp_path, redis, upstream, daemon):
    """A parent killed outright (SIGKILL) leaves no workers holding the
    port: they stop (PR_SET_PDEATHSIG), and the next daemon can listen."""
    workers = children(daemon.pid)
    assert len(workers) == 3
    daemon.send_signal(signal.SIGKILL)
    daemon.wait(10)
    wait_for(lambda: not any(pid_alive(p) for p in workers), 15, "the orphaned workers to stop")
    wait_for(lambda: not tcp_accepts(daemon.port), 5, "the port to be closed")
    env = dict(os.environ, REDIS_URL=redis.url, UPSTREAM_URL=upstream.url)
    again = subprocess.Popen([RESPONDER, "--listen", f"127.0.0.1:{daemon.port}", "--workers", "1"],
                             env=env, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: again.poll() is not None or tcp_accepts(daemon.port), 10,
                 "the next daemon to listen")
        assert again.poll() is None, again.stderr.read()
        assert fcgi_get(daemon.port, "/get_todos/3")[0] == 200
    finally:
        again.send_signal(signal.SIGTERM)
        assert again.wait(20) == 0


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


def test_relative_unix_socket_path(tmp_path, redis, upstream):
    env = dict(os.environ, REDIS_URL=redis.url, UPSTREAM_URL=upstream.url)
    proc = subprocess.Popen([RESPONDER, "--listen", "unix:rel.sock", "--workers", "1"], env=env,
                            cwd=tmp_path)
    try:
        wait_for((tmp_path / "rel.sock").is_socket, 10, "the socket")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    assert not (tmp_path / "rel.sock").exists()


@pytest.mark.parametrize("args", [["--workers", "0", "--listen", ":1"], ["--workers", "x", "--listen", ":1"],
                                  ["--workers", "3"], ["--listen"], ["--bogus"]])
def test_bad_command_lines_exit_64(args):
    r = subprocess.run([RESPONDER, *args], capture_output=True, timeout=10)
    assert r.returncode == 64, (args, r)


@pytest.mark.parametrize("value,why", [
    ("unix::27399", "unix:PATH needs a path, not starting with ':'"),
    ("unix:", "unix:PATH needs a path, not starting with ':'"),
    ("127.0.0.1:99999", "the port is not a number in 1..65535"),
    ("127.0.0.1:0", "the port is not a number in 1..65535"),
    (":65536", "the port is not a number in 1..65535"),
    ("/tmp/todos.sock", "not unix:PATH, HOST:PORT, :PORT or [IPv6]:PORT"),
    ("::1:9000", "not unix:PATH, HOST:PORT, :PORT or [IPv6]:PORT"),
])
def test_bad_listen_addresses_exit_64_naming_the_value(value, why):
    """Before: "unix::27399" listened on TCP 0.0.0.0:27399 and port 99999
    wrapped to 34463; now nothing listens and the line names the value."""
    try:
        r = subprocess.run([RESPONDER, "--listen", value, "--workers", "1"],
                           capture_output=True, timeout=5)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"--listen {value!r} was accepted and listened")
    assert (r.returncode, r.stdout) == (64, b""), r
    assert r.stderr.decode() == f"todos-fcgi: --listen '{value}': {why}\n"


def test_unknown_option_is_named():
    r = subprocess.run([RESPONDER, "--bogus"], capture_output=True, timeout=10)
    assert r.returncode == 64
    first, _, rest = r.stderr.decode().partition("\n")
    assert first == "todos-fcgi: unknown option '--bogus'"
    assert rest.startswith("usage: todos-fcgi ")


def test_address_in_use_is_our_message(tmp_path):
    """Before: libfcgi's "bind/listen: Address already in use", exit 22."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run([RESPONDER, "--listen", f"127.0.0.1:{port}", "--workers", "1"],
                           capture_output=True, timeout=10)
    assert r.returncode == 71, r
    assert re.fullmatch(rf"todos-fcgi\[\d+\]: error: daemon_run: cannot listen on "
                        rf"127\.0\.0\.1:{port}: bind: Address already in use\n",
                        r.stderr.decode()), r.stderr


def test_a_path_that_is_not_a_socket_is_never_removed(tmp_path):
    path = tmp_path / "not-a-socket"
    path.write_bytes(b"precious\n")
    r = subprocess.run([RESPONDER, "--listen", f"unix:{path}", "--workers", "1"],
                       capture_output=True, timeout=10)
    assert r.returncode == 71, r
    assert r.stderr.decode().endswith(f"daemon_run: cannot listen on unix:{path}: the path exists "
                                      "and is not a socket; not removing it\n"), r.stderr
    assert path.read_bytes() == b"precious\n"


def test_a_socket_in_use_is_not_taken_over_a_stale_one_is(tmp_path, redis, upstream):
    path = tmp_path / "d.sock"
    env = dict(os.environ, REDIS_URL=redis.url, UPSTREAM_URL=upstream.url)
    with socket.socket(socket.AF_UNIX) as live:
        live.bind(str(path))
        live.listen()
        r = subprocess.run([RESPONDER, "--listen", f"unix:{path}", "--workers", "1"],
                           capture_output=True, timeout=10, env=env)
        assert r.returncode == 71, r
        assert r.stderr.decode().endswith("another process listens on it\n"), r.stderr
        inode = os.stat(path).st_ino
    # Closed: the path is a stale socket now, left as a killed daemon leaves it.
    assert os.stat(path).st_ino == inode

    def accepts():
        with socket.socket(socket.AF_UNIX) as c:
            return c.connect_ex(str(path)) == 0

    assert not accepts()
    proc = subprocess.Popen([RESPONDER, "--listen", f"unix:{path}", "--workers", "1"], env=env)
    try:
        wait_for(lambda: proc.poll() is not None or accepts(), 10, "the daemon on the socket")
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    assert not path.exists()


def test_fcgi_web_server_addrs_closes_other_peers(tmp_path, redis, upstream):
    """Our threads accept(2) themselves, bypassing libfcgi's check of
    FCGI_WEB_SERVER_ADDRS: the check is ours.  One worker: one log line."""
    d = start_daemon(tmp_path, redis, upstream, workers=1, FCGI_WEB_SERVER_ADDRS="127.0.0.2, ::1")
    try:
        assert fcgi_get(d.port, "/get_todos/4", source="127.0.0.2")[0] == 200
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", d.port), timeout=10,
                                          source_address=("127.0.0.1", 0)) as c:
                try:
                    assert c.recv(100) == b""  # closed before a byte is read
                except ConnectionResetError:
                    pass
        assert fcgi_get(d.port, "/get_todos/4", source="127.0.0.2")[0] == 200
        assert log_lines(d, "FCGI_WEB_SERVER_ADDRS") == [
            f"todos-fcgi[{children(d.pid)[0]}]: warn: accept_one: closed a connection from "
            "127.0.0.1: not in FCGI_WEB_SERVER_ADDRS (logged once)"]
    finally:
        stop_daemon(d)


@pytest.mark.parametrize("value", ["localhost", "127.0.0.1,", "10.0.0.0/8"])
def test_bad_fcgi_web_server_addrs_exit_78(value):
    env = dict(os.environ, FCGI_WEB_SERVER_ADDRS=value)
    r = subprocess.run([RESPONDER, "--check-config"], capture_output=True, timeout=10, env=env)
    bad = value.rstrip(",") if value != "127.0.0.1," else ""
    assert r.returncode == 78, r
    assert r.stderr.decode() == (f"todos-fcgi: FCGI_WEB_SERVER_ADDRS: '{bad}' is not an IPv4 "
                                 "or IPv6 address\n")


def test_help_and_version():
    r = subprocess.run([RESPONDER, "--help"], capture_output=True, timeout=10)
    assert r.returncode == 0 and b"--listen" in r.stdout and b"--workers" in r.stdout
    r = subprocess.run([RESPONDER, "--version"], capture_output=True, timeout=10)
    assert r.returncode == 0 and r.stdout.startswith(b"todos-fcgi ")


def test_a_frozen_worker_is_killed_after_the_grace_however_often_sigterm_comes(tmp_path, redis,
                                                                            upstream):
    # Grace: UPSTREAM_TIMEOUT_MS + 5 s = 6 s from the first SIGTERM.  A
    # supervisor repeating SIGTERM every 0.5 s must not put it off.
    d = start_daemon(tmp_path, redis, upstream, workers=1, UPSTREAM_TIMEOUT_MS="1000")
    try:
        worker = children(d.pid)[0]
        os.kill(worker, signal.SIGSTOP)
        start = time.monotonic()
        while d.poll() is None and time.monotonic() - start < 15:
            d.send_signal(signal.SIGTERM)
            time.sleep(0.5)
        took = time.monotonic() - start
        assert d.poll() is not None, "the daemon still waits for a frozen worker after 15 s"
        assert 5.5 <= took <= 8.0, took
        assert not pid_alive(worker)
    finally:
        if d.poll() is None:
            d.kill()
            d.wait()
        d.logfile.close()


def test_connections_that_sent_nothing_do_not_hold_up_a_stop(tmp_path, redis, upstream):
    # A stop wakes the threads that wait for a connection and those whose
    # connection has sent nothing yet; only a request that has begun is
    # waited for (up to UPSTREAM_TIMEOUT_MS + 3 s, 8 s here).
    d = start_daemon(tmp_path, redis, upstream, workers=1, FCGI_THREADS="4",
                     UPSTREAM_TIMEOUT_MS="5000")
    socks = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(3)]
    try:
        time.sleep(0.3)         # each taken by a thread, which waits on it
        start = time.monotonic()
        d.send_signal(signal.SIGTERM)
        assert d.wait(20) == 0
        took = time.monotonic() - start
    finally:
        for s in socks:
            s.close()
        if d.poll() is None:
            d.kill()
            d.wait()
        d.logfile.close()
    assert took < 2.0, took
    assert not log_lines(d, "still busy")
