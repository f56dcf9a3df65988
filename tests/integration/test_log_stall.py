"""stderr that stops taking lines (a pipe whose reader stalls: a stuck log
collector) costs access lines, never answers: writes to a pipe never wait,
lines that cannot go are dropped and counted, and once the reader is back
the count is written (fcgi/log.c)."""

import fcntl
import os
import signal
import subprocess
import time

from harness import RESPONDER, children, free_port, wait_for
from test_deadlines import fcgi_body, timed_fcgi_get

F_GETPIPE_SZ = 1032


def test_a_stalled_stderr_does_not_stop_answers(tmp_path, redis, upstream):
    port = free_port()
    env = dict(os.environ, REDIS_URL=redis.url, UPSTREAM_URL=upstream.url, LOG_LEVEL="info",
               FCGI_THREADS="4")
    proc = subprocess.Popen([RESPONDER, "--listen", f"127.0.0.1:{port}", "--workers", "1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=tmp_path)
    try:
        wait_for(lambda: len(children(proc.pid)) == 1, 10, "the worker")
        wait_for(lambda: timed_fcgi_get(port, "/health", 2)[0] == 200, 10, "the daemon")
        # Nobody reads the pipe: its 64 KiB fill after some 500 access lines.
        size = fcntl.fcntl(proc.stderr.fileno(), F_GETPIPE_SZ)
        n = 3 * size // 100
        slowest = 0.0
        for i in range(n):
            status, _, body, took = timed_fcgi_get(port, "/get_todos/1", 5)
            assert status == 200 and body == fcgi_body(0), \
                f"request {i} of {n}: status {status} after {took:.2f}s"
            slowest = max(slowest, took)
        assert slowest < 2.5, slowest  # blocked, each would wait out the 5 s
        # The reader is back: what waited is written, then the count.
        os.set_blocking(proc.stderr.fileno(), False)
        seen = b""
        deadline = time.monotonic() + 10
        while b"lines dropped: stderr was not taking them" not in seen:
            assert time.monotonic() < deadline, seen[-2000:]
            try:
                seen += proc.stderr.read() or b""
            except BlockingIOError:
                pass
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
