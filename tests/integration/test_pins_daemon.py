"""Pins of the --listen daemon's socket: at exit a daemon removes its unix
socket only if the path is still its own (same device and inode), never a
successor's that took the path meanwhile.  A planted bug that removed
whatever socket was there (tests/mutate/mutants) once passed every test."""

import os
import signal
import socket
import subprocess

from harness import RESPONDER, wait_for


def accepts(path):
    with socket.socket(socket.AF_UNIX) as c:
        return c.connect_ex(str(path)) == 0


def test_a_stopping_daemon_leaves_its_successors_socket(tmp_path, redis, upstream):
    path = tmp_path / "d.sock"
    env = dict(os.environ, REDIS_URL=redis.url, UPSTREAM_URL=upstream.url, LOG_LEVEL="warn")
    argv = [RESPONDER, "--listen", f"unix:{path}", "--workers", "1"]
    old = subprocess.Popen(argv, env=env)
    new = None
    try:
        wait_for(lambda: accepts(path), 10, "the first daemon on the socket")
        # A successor takes the path over (a deploy that removed the old
        # socket first); then the first daemon is stopped.
        os.unlink(path)
        new = subprocess.Popen(argv, env=env)
        wait_for(lambda: accepts(path), 10, "the second daemon on the socket")
        inode = os.stat(path).st_ino
        old.send_signal(signal.SIGTERM)
        assert old.wait(20) == 0
        assert path.is_socket() and os.stat(path).st_ino == inode
        assert accepts(path)
        assert new.poll() is None
        new.send_signal(signal.SIGTERM)
        assert new.wait(20) == 0
        assert not path.exists()
    finally:
        for p in (old, new):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(10)
