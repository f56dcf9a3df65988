"""Quick checks of fake_upstream.py, run as a real subprocess over real sockets."""

import http.client
import json
import os
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "fake_upstream.py")
with open(os.path.join(HERE, "todos.json"), "rb") as f:
    TODOS = json.load(f)


def start_server(tmp_path, *args):
    """Start the server; returns (process, port) once it listens."""
    port_file = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, SCRIPT, "--quiet", "--port-file", str(port_file), *args])
    deadline = time.monotonic() + 5
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("fake upstream did not start")
        time.sleep(0.02)
    return proc, int(port_file.read_text())


def stop_server(proc, sig=signal.SIGTERM):
    proc.send_signal(sig)
    try:
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    proc, port = start_server(tmp_path_factory.mktemp("upstream"))
    yield port
    stop_server(proc)


@pytest.fixture(autouse=True)
def fresh(port):
    """Every test starts without counts, faults or overrides."""
    assert call(port, "POST", "/__control/reset")[0] == 200


def call(port, method, path, body=None, timeout=5, conn=None):
    """One request (on conn if given, else a new connection): (status, headers, body)."""
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    payload = None if body is None else json.dumps(body)
    conn.request(method, path, body=payload)
    response = conn.getresponse()
    return response.status, response.headers, response.read()


def control(port, endpoint, body):
    status, _, answer = call(port, "POST", "/__control/" + endpoint, body)
    assert (status, json.loads(answer)) == (200, {})


def stats(port):
    status, _, body = call(port, "GET", "/__control/stats")
    assert status == 200
    return json.loads(body)


def test_todos_list(port):
    status, headers, body = call(port, "GET", "/todos")
    assert status == 200
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["ETag"].startswith('W/"')
    assert headers["Cache-Control"] == "max-age=43200"
    assert int(headers["Content-Length"]) == len(body)
    assert body == json.dumps(TODOS, indent=2, ensure_ascii=False).encode("utf-8")
    assert len(json.loads(body)) == 200


def test_one_todo_ignores_query(port):
    for path in ("/todos/1", "/todos/1?foo=bar"):
        status, _, body = call(port, "GET", path)
        assert status == 200
        assert body == json.dumps(TODOS[0], indent=2).encode()
        assert json.loads(body)["id"] == 1


def test_not_found(port):
    for path in ("/todos/201", "/todos/999", "/todos/abc", "/todos/0", "/"):
        assert call(port, "GET", path)[::2] == (404, b"{}"), path


def test_head(port):
    status, headers, body = call(port, "HEAD", "/todos/2")
    assert (status, body) == (200, b"")
    assert int(headers["Content-Length"]) == len(call(port, "GET", "/todos/2")[2])


def test_stats_count_requests_and_connections(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    for path in ("/todos/1", "/todos/1?x=1", "/todos"):
        call(port, "GET", path, conn=conn)  # one kept-alive connection
    call(port, "GET", "/todos/404")
    assert stats(port) == {"total": 4, "requests": {"/todos/1": 2, "/todos": 1, "/todos/404": 1},
                           "connections": 2}
    # A kept-alive connection used again after a reset counts again.
    control(port, "reset", {})
    call(port, "GET", "/todos/3", conn=conn)
    assert stats(port) == {"total": 1, "requests": {"/todos/3": 1}, "connections": 1}


def test_fault_status_times_once(port):
    control(port, "fault", {"path": "/todos/1", "mode": "status", "status": 500, "times": 1})
    status, headers, body = call(port, "GET", "/todos/1")
    assert (status, json.loads(body)) == (500, {"error": "injected"})
    assert int(headers["Content-Length"]) == len(body)
    assert call(port, "GET", "/todos/1")[0] == 200
    assert stats(port)["requests"] == {"/todos/1": 2}


def test_fault_invalid_json(port):
    control(port, "fault", {"path": "/todos/1", "mode": "invalid_json"})
    status, headers, body = call(port, "GET", "/todos/1")
    assert status == 200 and int(headers["Content-Length"]) == len(body) > 0
    with pytest.raises(ValueError):
        json.loads(body)
    assert call(port, "GET", "/todos/2")[0] == 200  # other paths are not faulted


def test_fault_reset(port):
    control(port, "fault", {"path": "*", "mode": "reset"})
    with pytest.raises(ConnectionResetError):
        call(port, "GET", "/todos/1")


def test_fault_delay(port):
    control(port, "fault", {"path": "/todos/1", "mode": "delay", "delay_ms": 300})
    start = time.monotonic()
    assert call(port, "GET", "/todos/1")[0] == 200
    assert time.monotonic() - start >= 0.3


def test_fault_hang(port):
    control(port, "fault", {"path": "/todos/1", "mode": "hang", "times": 1})
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        call(port, "GET", "/todos/1", timeout=1)
    assert time.monotonic() - start < 3
    assert call(port, "GET", "/todos/1")[0] == 200  # the server still answers


@pytest.mark.parametrize("chunked", [True, False])
def test_fault_oversize(port, chunked):
    size = 300_000
    control(port, "fault", {"path": "/todos", "mode": "oversize", "bytes": size, "chunked": chunked})
    status, headers, body = call(port, "GET", "/todos")
    assert status == 200 and len(body) >= size
    if chunked:
        assert headers["Transfer-Encoding"] == "chunked" and "Content-Length" not in headers
    else:
        assert int(headers["Content-Length"]) == len(body)
    assert all(isinstance(item, dict) for item in json.loads(body))


@pytest.mark.parametrize("size", [2, 12, 13, 14, 100, 300_000])
def test_fault_oversize_shapes(port, size):
    """Exactly size bytes, shaped as the path's answer: a list of objects,
    or one object for a todo."""
    for path, kind in (("/todos", list), ("/todos/3", dict)):
        control(port, "fault", {"path": path, "mode": "oversize", "bytes": size, "times": 1})
        status, _, body = call(port, "GET", path)
        assert status == 200 and len(body) == size, (path, size, len(body))
        value = json.loads(body)
        assert isinstance(value, kind), (path, body[:40])
        if kind is list:
            assert all(isinstance(item, dict) for item in value)


def test_newest_fault_wins(port):
    control(port, "fault", {"path": "*", "mode": "status", "status": 503})
    control(port, "fault", {"path": "/todos/1", "mode": "status", "status": 404, "times": 1})
    assert call(port, "GET", "/todos/1")[0] == 404
    assert call(port, "GET", "/todos/1")[0] == 503


def test_override_and_fault_precedence(port):
    body = '{"id": 5, "title": "überschrieben"'
    control(port, "override", {"path": "/todos/5", "status": 200, "body": body})
    assert call(port, "GET", "/todos/5")[::2] == (200, body.encode("utf-8"))
    control(port, "fault", {"path": "/todos/5", "mode": "status", "status": 500, "times": 1})
    assert call(port, "GET", "/todos/5")[0] == 500
    assert call(port, "GET", "/todos/5")[2] == body.encode("utf-8")


def test_latency(port):
    control(port, "latency", {"min_ms": 200, "max_ms": 200})
    try:
        start = time.monotonic()
        call(port, "GET", "/todos/1")
        assert time.monotonic() - start >= 0.2
        start = time.monotonic()
        stats(port)  # control requests are never delayed
        assert time.monotonic() - start < 0.2
    finally:
        control(port, "latency", {"min_ms": 0, "max_ms": 0})


def test_reset_clears_everything(port):
    control(port, "fault", {"path": "*", "mode": "status", "status": 500})
    control(port, "override", {"path": "/todos/1", "body": "x"})
    call(port, "GET", "/todos/1")
    control(port, "reset", {})
    assert stats(port) == {"total": 0, "requests": {}, "connections": 0}
    assert call(port, "GET", "/todos/1")[::2] == (200, json.dumps(TODOS[0], indent=2).encode())


@pytest.mark.parametrize("endpoint, body", [
    ("fault", {"path": "/todos/1", "mode": "explode"}),
    ("fault", {"path": "todos", "mode": "status", "status": 500}),
    ("fault", {"path": "*", "mode": "status"}),
    ("fault", {"path": "*", "mode": "delay", "delay_ms": 10, "times": 0}),
    ("override", {"path": "/todos/1", "body": 5}),
    ("latency", {"min_ms": 5, "max_ms": 1}),
    ("latency", [0, 1]),
])
def test_bad_control_body(port, endpoint, body):
    status, _, answer = call(port, "POST", "/__control/" + endpoint, body)
    assert status == 400 and "error" in json.loads(answer)


def test_exits_cleanly_on_sigint(tmp_path):
    proc, port = start_server(tmp_path)
    assert call(port, "GET", "/todos/1")[0] == 200
    stop_server(proc, signal.SIGINT)
