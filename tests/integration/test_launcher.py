"""The launcher (scripts/common.sh under lighttpd/run, apache/run,
nginx/run, and `make run`/`make demo` on top) as a supervisor sees it.

- A signal to make's PID (SIGTERM, as a process supervisor sends; SIGKILL)
  or a hangup of its group stops every process the launcher started, and a second `make demo` on the same PORT then starts.
- The private redis-server and the local upstream are restarted, on the
  same socket or port, when they die, and the restart is logged; one that
  dies again right after its restart stops the service (exit 69).
- A web server that cannot listen (PORT in use, BIND not an address of
  this host) stops start-up with exit 78 (2 through make) naming the
  address, before anything says "starting", with nothing left running.
- An IPv6 BIND, bare or bracketed, serves on that address (and only there),
  and the "starting on" URL brackets it.
"""

import os
import re
import signal
import socket
import subprocess
import time

import pytest

from harness import (RESPONDER, TODOS, TOP, children, free_port, pid_alive,
                     stop_process, tcp_accepts, wait_for)
from test_run import (STOP_TIMEOUT, Tracker, alive, nonempty_lines,  # noqa: F401
                      redis_cli_sock, run, start_time, unix_accepts)

NOT_BYPASS = ("MISS", "HIT")


def read_pid(rundir, name):
    try:
        with open(os.path.join(rundir, f"{name}.pid")) as f:
            return int(f.read())
    except (FileNotFoundError, ValueError):
        return None


def descendants(pid):
    found, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


# --- make's PID signalled: everything the launcher started stops

class Make:
    """`make demo` on port, the way a user (or a supervisor) starts it."""

    def __init__(self, tmp_path, port, name):
        rel = os.path.relpath(os.path.dirname(os.path.realpath(RESPONDER)), TOP)
        if rel.startswith(".."):
            pytest.skip("RESPONDER is not built in this checkout")
        self.rundir = str(tmp_path / "run")
        self.log = str(tmp_path / f"{name}.log")
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        env.update(PORT=str(port), RUNDIR=self.rundir, FCGI_PROCS="2", LOG_LEVEL="warn",
                   DEMO_LATENCY_MS="0-0")
        env.pop("REDIS_URL", None)
        args = ["make", "-s", "-C", TOP, "demo", f"O={rel}"]
        if rel == os.path.join("build", "san"):
            args.append("SAN=1")
        self.port = port
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def output(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_serving(self):
        def serving():
            assert self.proc.poll() is None, f"make exited {self.proc.returncode}:\n{self.output()}"
            return "starting on" in self.output() and tcp_accepts(self.port)
        wait_for(serving, 60, f"make demo on port {self.port}")

    def started(self):
        """Every process below make, and the ones named in RUNDIR."""
        pids = set(descendants(self.proc.pid))
        for name in ("lighttpd", "redis", "upstream"):
            pid = read_pid(self.rundir, name)
            assert pid is not None, f"no {name}.pid in {self.rundir}"
            pids.add(pid)
        return {p for p in pids if pid_alive(p)}


@pytest.mark.parametrize("sig,group", [
    (signal.SIGTERM, False),
    (signal.SIGKILL, False),  # make gone, the launcher notices
    (signal.SIGHUP, True),  # a terminal hangup: make blocks HUP while it waits
], ids=["TERM", "KILL", "HUP-group"])
def test_signal_to_make_stops_everything_and_make_runs_again(tmp_path, sig, group):
    tracker = Tracker()
    port = free_port()
    first = Make(tmp_path, port, "first")
    second = None
    try:
        first.wait_serving()
        everything = first.started()
        tracker.add(everything)
        lighttpd = read_pid(first.rundir, "lighttpd")
        assert len(children(lighttpd)) == 2, "responders"
        assert len(everything) >= 6, everything  # launcher, lighttpd, 2, redis, upstream
        r = http_get(port, "/get_todos/1")
        assert r[0] == 200

        if group:
            os.killpg(first.proc.pid, sig)
        else:
            os.kill(first.proc.pid, sig)  # make's PID only, not its group
        wait_for(lambda: first.proc.poll() is not None and not alive(everything),
                 STOP_TIMEOUT, f"{sorted(alive(everything))} to stop after {sig.name}")
        assert not tcp_accepts(port)
        assert not unix_accepts(os.path.join(first.rundir, "redis.sock"))

        second = Make(tmp_path, port, "second")
        second.wait_serving()
        tracker.add(second.started())
        assert http_get(port, "/get_todos/2")[0] == 200
        stop_process(second.proc, signal.SIGTERM, timeout=STOP_TIMEOUT)
        assert second.proc.returncode == -signal.SIGTERM  # make dies of it, once stopped
        wait_for(lambda: not tracker.running(), STOP_TIMEOUT, "the second run to stop")
    finally:
        for m in (first, second):
            if m is not None:
                tracker.add(descendants(m.proc.pid))
                tracker.add(p for n in ("lighttpd", "redis", "upstream")
                            if (p := read_pid(m.rundir, n)))
                if m.proc.poll() is None:
                    m.proc.kill()
                    m.proc.wait()
        tracker.kill_leftovers()


def http_get(port, path):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.getheader("X-Cache"), r.read()
    finally:
        conn.close()


# --- the private redis-server and the local upstream are supervised

def demo(run):
    s = run(REDIS_URL=None, UPSTREAM_URL=None, DEMO_LATENCY_MS="0-0")
    s.args = ["--demo"]
    return s.start()


def wait_restarted(s, name):
    old = read_pid(s.rundir, name)
    assert old and pid_alive(old)
    os.kill(old, signal.SIGKILL)
    new = wait_for(lambda: (p := read_pid(s.rundir, name)) not in (None, old) and p,
                   10, f"a new {name}")
    assert new in children(s.proc.pid)
    wait_for(lambda: f"{name} (pid {old}) killed by signal 9; restarted (pid {new})"
             in s.output(), 5, f"the restart of {name} in the log:\n{s.output()}")
    s.track()
    return new


def test_private_redis_killed_is_restarted_on_the_same_socket(run):
    s = demo(run)
    r = s.get("/get_todos/1")
    assert (r.status, r.headers["x-cache"]) == (200, "MISS")
    wait_restarted(s, "redis")
    wait_for(lambda: redis_cli_sock(s.sock, "PING") == "PONG", 10, "PING on the same socket")
    assert redis_cli_sock(s.sock, "CONFIG", "GET", "port") == "port\n0"
    # The responders reconnect: answers come from the cache again.
    wait_for(lambda: s.get("/get_todos/1").headers["x-cache"] in NOT_BYPASS, 10,
             "an answer that is not BYPASS")
    r = s.get("/get_todos/1")
    assert (r.status, r.headers["x-cache"]) == (200, "HIT"), r
    assert r.json() == TODOS[0]
    assert s.proc.poll() is None


def test_local_upstream_killed_is_restarted_on_the_same_port(run):
    s = demo(run)
    with open(os.path.join(s.rundir, "upstream.port")) as f:
        port = f.read()
    wait_restarted(s, "upstream")
    with open(os.path.join(s.rundir, "upstream.port")) as f:
        assert f.read() == port
    r = s.get("/get_todos/2")
    assert (r.status, r.headers["x-cache"]) == (200, "MISS"), r
    assert r.json() == TODOS[1]


@pytest.mark.parametrize("name", ["redis", "upstream"])
def test_dying_again_right_after_a_restart_stops_the_service(run, name):
    s = demo(run)
    everything = s.started_pids() | {read_pid(s.rundir, "upstream")}
    new = wait_restarted(s, name)
    os.kill(new, signal.SIGKILL)
    wait_for(lambda: s.proc.poll() is not None, STOP_TIMEOUT, "the script to stop")
    assert s.proc.returncode == 69, s.output()
    assert re.search(rf"{name} \(pid {new}\) killed by signal 9 again within 10 s of its "
                     r"restart; stopping", s.output()), s.output()
    wait_for(lambda: not alive(everything), STOP_TIMEOUT, "everything to stop")
    assert not tcp_accepts(s.port)


# --- an address the web server cannot listen on: exit 78, no "starting"

FRONTS = ["lighttpd", "apache", "nginx"]


def assert_refused(s, status, out, err, address, why):
    assert status == 78, err
    assert "starting" not in out + err
    lines = nonempty_lines(err)
    assert lines and lines[-1].startswith(f"{s.front}/run: cannot listen on {address}: {why}"), err
    wait_for(lambda: not s.tracker.running(), STOP_TIMEOUT, "nothing left running")
    redis = s.redis_pid()  # None: nginx -t refused the address first
    assert redis is None or not pid_alive(redis)
    assert not unix_accepts(s.sock)


@pytest.mark.parametrize("front", FRONTS)
def test_port_in_use_is_78_naming_the_address(run, front):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        s = run(front=front, REDIS_URL=None, PORT=port)
        status, out, err = s.run_to_exit(timeout=20)
        assert_refused(s, status, out, err, f"127.0.0.1:{port}", f"port {port} is in use")


@pytest.mark.parametrize("front", FRONTS)
def test_bind_not_of_this_host_is_78_naming_the_address(run, front):
    s = run(front=front, REDIS_URL=None, BIND="192.0.2.1")  # TEST-NET-1
    status, out, err = s.run_to_exit(timeout=20)
    assert_refused(s, status, out, err, f"192.0.2.1:{s.port}",
                   "is 192.0.2.1 an address of this host?")


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no ::1 on this host")
@pytest.mark.parametrize("front,bind", [("lighttpd", "::1"), ("lighttpd", "[::1]"),
                                        ("apache", "::1"), ("nginx", "[::1]")])
def test_ipv6_bind_serves_there_only(run, front, bind):
    s = run(front=front, REDIS_URL=None, BIND=bind).start()
    assert f"starting on http://[::1]:{s.port}/get_todos" in s.output()
    r = s.get("/get_todos/1")
    assert r.status == 200 and r.json()["id"] == 1, r
    assert not tcp_accepts(s.port, "127.0.0.1")


def test_port_in_use_through_make_is_2(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        m = Make(tmp_path, port, "make")
        try:
            m.proc.wait(timeout=60)
        finally:
            if m.proc.poll() is None:
                m.proc.kill()
        out = m.output()
        assert m.proc.returncode == 2, out
        assert f"lighttpd/run: cannot listen on 127.0.0.1:{port}: port {port} is in use" in out
        assert "Error 78" in out
        assert "starting" not in out


# --- the web server or the daemon dies: nothing of ours lives on

def threads(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return int(re.search(r"^Threads:\s*(\d+)", f.read(), re.M).group(1))
    except (FileNotFoundError, AttributeError):
        return 0


def test_lighttpd_killed_takes_its_responders_along(run):
    """lighttpd's responders (fd 0, bin-path) die with it: the launcher
    cannot find them once they are init's children, so they must stop by
    themselves (PR_SET_PDEATHSIG)."""
    s = demo(run)
    lighttpd = read_pid(s.rundir, "lighttpd")
    responders = children(lighttpd)
    assert len(responders) == 2, responders
    # Each has started its threads, so it is past main()'s prctl (a web
    # server gone before that is noticed there too, by getppid()).
    wait_for(lambda: all(threads(p) > 1 for p in responders), 20, "the responders' threads")
    os.kill(lighttpd, signal.SIGKILL)
    s.proc.wait(timeout=STOP_TIMEOUT)
    # They stop gracefully, as on any SIGTERM (under ASan, with a leak
    # check at exit, on a loaded machine: seconds).
    wait_for(lambda: not any(pid_alive(p) for p in responders), 30,
             f"responders {responders} to stop with lighttpd")


@pytest.mark.parametrize("front", ["apache", "nginx"])
def test_daemon_killed_stops_the_service_with_69(run, front):
    """The daemon restarts its workers; the daemon itself dead, nothing
    answers behind the front: the launcher says so and stops (69)."""
    s = run(front=front, REDIS_URL=None).start()
    daemon = read_pid(s.rundir, "daemon")
    os.kill(daemon, signal.SIGKILL)
    assert s.proc.wait(timeout=STOP_TIMEOUT) == 69, s.output()
    assert f"todos-fcgi daemon (pid {daemon}) killed by signal 9; stopping" in s.output()
    assert not tcp_accepts(s.port)


def test_second_signal_while_stopping_leaves_nothing_behind(run):
    """A supervisor that sends SIGTERM twice (the first stop waits on a
    frozen redis-server) must not cut the stop short."""
    s = demo(run)
    redis = read_pid(s.rundir, "redis")
    upstream = read_pid(s.rundir, "upstream")
    os.kill(redis, signal.SIGSTOP)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(1)
    s.proc.send_signal(signal.SIGTERM)
    s.proc.wait(timeout=STOP_TIMEOUT + 15)
    wait_for(lambda: not pid_alive(redis) and not pid_alive(upstream), 5,
             "redis-server and the upstream stopped")
