"""lighttpd/run, the script `make run` runs, and the responder's command line.

A bad setting stops start-up with one line naming it; without REDIS_URL the
script runs a private redis-server on a socket in RUNDIR; SIGTERM and SIGINT
stop everything it started; instances on other ports get their own RUNDIR,
one on the same port is refused; FCGI_PROCS sets the number of responders.
Every process is stopped by PID: the script by its teardown, and anything
it started that outlives it by the PIDs (and start times) seen here.
"""

import os
import re
import signal
import socket
import stat
import subprocess
import time

import pytest

from harness import (RESPONDER, TODOS, Service, children, pid_alive, started_at,
                     stop_process, tcp_accepts, wait_for)

# Started by the script, these must be gone this soon after a signal.
STOP_TIMEOUT = 10
KEY_1 = "todos:v1:/todos/1"


start_time = started_at  # the harness's; test_launcher imports it from here



def unix_accepts(path):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(1)
        try:
            s.connect(path)
            return True
        except OSError:
            return False


def redis_cli_sock(sock, *args):
    out = subprocess.run(["redis-cli", "-s", sock, *args], capture_output=True,
                         timeout=10)
    return out.stdout.decode().rstrip("\n")


def nonempty_lines(text):
    return [line for line in text.splitlines() if line.strip()]


def alive(pids):
    return [p for p in pids if pid_alive(p)]


class Tracker:
    """PIDs a test saw the script start; teardown kills the ones left."""

    def __init__(self):
        self.seen = {}

    def add(self, pids):
        for pid in pids:
            t = start_time(pid)
            if t is not None:
                self.seen.setdefault(pid, t)

    def kill_leftovers(self, grace=STOP_TIMEOUT):
        """Kills what is still running after grace seconds: lighttpd does
        not wait for its responders, which may still be exiting (under
        the sanitizers, checking for leaks) when the script has gone."""
        deadline = time.monotonic() + grace
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self.running():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def running(self):
        return [p for p, t in self.seen.items() if pid_alive(p) and start_time(p) == t]


class Run(Service):
    """Service whose RUNDIR may be left to the script's default."""

    def __init__(self, tmpdir, tracker, front="lighttpd", **env):
        super().__init__(tmpdir, front=front, **env)
        self.tracker = tracker
        self.args = []  # e.g. ["--demo"]

    @property
    def rundir(self):
        if "RUNDIR" in self.env:
            return self.env["RUNDIR"]
        return os.path.join(self.env.get("TMPDIR") or "/tmp", f"todos-fcgi-{self.port}")

    @property
    def sock(self):
        return os.path.join(self.rundir, "redis.sock")

    def redis_pid(self):
        """The private redis-server's PID: RUNDIR/redis.pid while the script
        runs, else the last start in the log it writes in RUNDIR."""
        try:
            with open(os.path.join(self.rundir, "redis.pid")) as f:
                return int(f.read())
        except (FileNotFoundError, ValueError):
            pass
        try:
            with open(os.path.join(self.rundir, "redis.log")) as f:
                m = re.findall(r"\bpid=(\d+), just started", f.read())
        except FileNotFoundError:
            return None
        return int(m[-1]) if m else None

    def started_pids(self):
        """What the script has running now: its children, lighttpd's, and
        the private redis-server."""
        pids = set(children(self.proc.pid)) if self.proc else set()
        try:
            lighttpd = self.lighttpd_pid()
            pids.add(lighttpd)
            pids.update(children(lighttpd))
        except (FileNotFoundError, ValueError):
            pass
        if self.redis_pid():
            pids.add(self.redis_pid())
        return {p for p in pids if pid_alive(p)}

    def track(self):
        self.tracker.add(self.started_pids())

    def start(self, wait=True):
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([self.run, *self.args], env=self.env, stdout=self.logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.wait_listening()
        return self

    def wait_listening(self):
        """Until the script says it serves: by then the web server listens
        and the script has nothing left running but what it started."""
        wait_for(lambda: self.listening() and "starting on" in self.output(), 20,
                 f"the service on port {self.port}")
        self.track()

    def run_to_exit(self, timeout=10):
        """Runs the script expecting it to give up; (status, stdout, stderr)."""
        out_path, err_path = (os.path.join(self.dir, n) for n in ("out", "err"))
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            # Files, not pipes: a leftover child holding a pipe must not
            # pass for the script itself not exiting.
            self.proc = subprocess.Popen([self.run, *self.args], env=self.env, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
            self.logf = open(self.log, "ab")  # for Service.stop to close
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"{self.run} still running after {timeout}s")
            finally:
                self.track()
        with open(out_path, "rb") as f:
            stdout = f.read().decode(errors="replace")
        with open(err_path, "rb") as f:
            stderr = f.read().decode(errors="replace")
        return self.proc.returncode, stdout, stderr


@pytest.fixture
def run(tmp_path_factory, upstream):
    """Makes (unstarted) Runs with the module's upstream; stops them all."""
    tracker = Tracker()
    made = []

    def make(**env):
        env.setdefault("UPSTREAM_URL", upstream.url)
        env.setdefault("UPSTREAM_TIMEOUT_MS", 1500)
        env.setdefault("UPSTREAM_MAX_BYTES", 65536)
        port = env.pop("PORT", None)
        r = Run(tmp_path_factory.mktemp("run"), tracker, **env)
        if port is not None:  # may be no number at all (PORT=abc)
            r.env["PORT"] = str(port)
            r.port = int(port) if str(port).isdigit() else None
        made.append(r)
        return r

    yield make
    for r in made:
        if r.proc is not None and r.proc.poll() is None:
            r.track()
        r.stop()
    tracker.kill_leftovers()


def assert_ok(r, x_cache, todo):
    assert r.status == 200, r
    assert r.headers["x-cache"] == x_cache, r
    assert r.json() == todo


# --- 1. a bad setting stops start-up, naming it, with nothing left running

BAD = [
    ("CACHE_TTL", "abc"),
    ("CACHE_TTL", "0"),
    ("REDIS_URL", "ftp://x"),
    ("UPSTREAM_URL", "ftp://x"),
    ("UPSTREAM_TIMEOUT_MS", "-1"),
    ("UPSTREAM_MAX_BYTES", "12"),
    ("LOG_LEVEL", "loud"),
    ("PORT", "abc"),
    ("PORT", "70000"),
    ("FCGI_PROCS", "0"),
]


@pytest.mark.parametrize("name,value", BAD, ids=[f"{n}={v}" for n, v in BAD])
def test_bad_setting_stops_start_up_with_one_line(run, redis, name, value):
    env = {"REDIS_URL": redis.url, name: value}
    s = run(**env)
    status, _, stderr = s.run_to_exit()
    assert status != 0, stderr
    lines = nonempty_lines(stderr)
    assert lines and name in lines[-1], stderr
    assert len(lines) == 1, stderr
    assert not os.path.exists(os.path.join(s.rundir, "lighttpd.pid"))
    if name != "PORT":
        assert not tcp_accepts(s.port)
    assert not s.tracker.running(), "left running"


@pytest.mark.parametrize("name,value", [("CACHE_TTL", "abc"), ("UPSTREAM_URL", "ftp://x")])
def test_bad_setting_stops_the_private_redis_it_started(run, name, value):
    s = run(REDIS_URL=None, **{name: value})
    status, _, stderr = s.run_to_exit()
    assert status != 0, stderr
    lines = nonempty_lines(stderr)
    assert lines and name in lines[-1], stderr
    pid = s.redis_pid()
    assert pid is not None, "the script did not start its redis-server first"
    assert not pid_alive(pid), f"redis-server {pid} outlived the failed start"
    assert not unix_accepts(s.sock)
    assert not os.path.exists(os.path.join(s.rundir, "lighttpd.pid"))
    assert not tcp_accepts(s.port)


# --- 2. without REDIS_URL, a private redis-server on a socket in RUNDIR

def test_private_redis_on_a_socket_in_rundir_is_the_cache(run, upstream):
    s = run(REDIS_URL=None).start()
    assert stat.S_ISSOCK(os.stat(s.sock).st_mode)
    pid = s.redis_pid()
    assert pid in children(s.proc.pid)
    assert redis_cli_sock(s.sock, "CONFIG", "GET", "port") == "port\n0"  # no TCP
    assert_ok(s.get("/get_todos/1"), "MISS", TODOS[0])
    assert_ok(s.get("/get_todos/1"), "HIT", TODOS[0])
    assert upstream.count("/todos/1") == 1
    assert redis_cli_sock(s.sock, "KEYS", "*") == KEY_1
    assert redis_cli_sock(s.sock, "EXISTS", KEY_1) == "1"


# --- 3. SIGTERM / SIGINT stop everything the script started

@pytest.mark.parametrize("sig,target", [
    (signal.SIGTERM, "script"),
    (signal.SIGINT, "script"),
    (signal.SIGINT, "group"),  # Ctrl-C: the whole foreground process group
], ids=["TERM-script", "INT-script", "INT-group"])
def test_signal_stops_everything_started(run, sig, target):
    s = run(REDIS_URL=None, FCGI_PROCS=2).start()
    lighttpd = s.lighttpd_pid()
    responders = wait_for(lambda: len(children(lighttpd)) == 2 and children(lighttpd),
                          10, "2 responders")
    redis_pid = s.redis_pid()
    assert sorted(children(s.proc.pid)) == sorted([lighttpd, redis_pid])
    everything = [lighttpd, redis_pid, *responders]
    s.track()
    assert s.get("/get_todos/1").status == 200

    if target == "group":
        os.killpg(s.proc.pid, sig)  # start_new_session: its own group
    else:
        os.kill(s.proc.pid, sig)
    wait_for(lambda: s.proc.poll() is not None and not alive(everything),
             STOP_TIMEOUT, f"the script and {everything} to stop")
    assert s.proc.returncode == 128 + sig, s.output()
    assert not tcp_accepts(s.port)
    assert not unix_accepts(s.sock)


# --- 4. instances on different ports, default RUNDIR, do not collide

def test_two_ports_two_rundirs_no_collision(run, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("tmpdir"))
    a = run(REDIS_URL=None, RUNDIR=None, TMPDIR=tmp)
    b = run(REDIS_URL=None, RUNDIR=None, TMPDIR=tmp)
    assert a.port != b.port
    a.start(wait=False)
    b.start(wait=False)
    a.wait_listening()
    b.wait_listening()

    assert a.rundir == os.path.join(tmp, f"todos-fcgi-{a.port}")
    assert b.rundir == os.path.join(tmp, f"todos-fcgi-{b.port}")
    for s in (a, b):
        assert s.lighttpd_pid() in children(s.proc.pid)
        assert s.redis_pid() in children(s.proc.pid)
    assert a.redis_pid() != b.redis_pid()

    assert_ok(a.get("/get_todos/1"), "MISS", TODOS[0])
    assert_ok(a.get("/get_todos/1"), "HIT", TODOS[0])
    assert_ok(b.get("/get_todos/1"), "MISS", TODOS[0])  # its own redis

    a_pids = list(a.started_pids())
    b_pids = list(b.started_pids())
    assert not set(a_pids) & set(b_pids)
    stop_process(a.proc, signal.SIGTERM, timeout=STOP_TIMEOUT)
    wait_for(lambda: not alive(a_pids), STOP_TIMEOUT, f"{a_pids} to stop")
    assert not tcp_accepts(a.port)

    assert b.proc.poll() is None
    assert alive(b_pids) == b_pids
    assert_ok(b.get("/get_todos/1"), "HIT", TODOS[0])
    assert_ok(b.get("/get_todos/2"), "MISS", TODOS[1])
    assert redis_cli_sock(b.sock, "PING") == "PONG"


# --- 5. a second instance on the same port is refused, the first unharmed

def test_same_port_second_instance_refused(run, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("tmpdir"))
    a = run(REDIS_URL=None, RUNDIR=None, TMPDIR=tmp).start()
    assert_ok(a.get("/get_todos/1"), "MISS", TODOS[0])
    before = sorted(a.started_pids())
    lighttpd = a.lighttpd_pid()

    b = run(REDIS_URL=None, RUNDIR=None, TMPDIR=tmp, PORT=a.port)
    assert b.rundir == a.rundir
    status, _, stderr = b.run_to_exit()
    assert status != 0, stderr
    lines = nonempty_lines(stderr)
    assert lines and "in use" in lines[-1], stderr

    assert a.proc.poll() is None
    assert sorted(a.started_pids()) == before
    assert a.lighttpd_pid() == lighttpd
    assert redis_cli_sock(a.sock, "PING") == "PONG"
    assert redis_cli_sock(a.sock, "EXISTS", KEY_1) == "1"
    assert_ok(a.get("/get_todos/1"), "HIT", TODOS[0])


# --- 6. FCGI_PROCS responders, the cores by default

@pytest.mark.parametrize("procs", [1, 3, 6, None],
                         ids=["FCGI_PROCS=1", "FCGI_PROCS=3", "FCGI_PROCS=6", "default"])
def test_responder_count_follows_fcgi_procs(run, redis, procs):
    env = {"REDIS_URL": redis.url, "FCGI_PROCS": procs}
    if procs is None:  # nproc, under the script, would count these instead
        env.update(OMP_NUM_THREADS=None, OMP_THREAD_LIMIT=None)
    s = run(**env).start()
    want = procs or os.cpu_count()
    lighttpd = s.lighttpd_pid()
    # lighttpd spawns them all before it listens; a moment is plenty.
    deadline = time.monotonic() + 3
    while len(children(lighttpd)) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    s.track()
    time.sleep(0.2)
    pids = children(lighttpd)
    assert len(pids) == want, f"FCGI_PROCS={procs}: {len(pids)} responders, not {want}"
    for pid in pids:
        assert os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(RESPONDER)
    assert s.get("/get_todos/1").status == 200


# --- 7. the responder's command line

def responder(*args, stdin=subprocess.DEVNULL, **env):
    e = dict(os.environ)
    e.update({"REDIS_URL": "redis://127.0.0.1:1/0", "UPSTREAM_URL": "http://127.0.0.1:1",
              "LOG_LEVEL": "warn"})
    e.update(env)
    return subprocess.run([RESPONDER, *args], env=e, stdin=stdin, capture_output=True,
                          timeout=10)


def test_check_config_valid_is_0():
    p = responder("--check-config")
    assert p.returncode == 0, p.stderr
    assert p.stderr == b""


RESPONDER_BAD = [(n, v) for n, v in BAD if n != "FCGI_PROCS"]


@pytest.mark.parametrize("name,value", RESPONDER_BAD,
                         ids=[f"{n}={v}" for n, v in RESPONDER_BAD])
def test_check_config_invalid_is_78_one_line(name, value):
    p = responder("--check-config", **{name: value})
    assert p.returncode == 78, p.stderr
    err = p.stderr.decode()
    assert re.fullmatch(rf"todos-fcgi: {name}: \S.*\n", err), err


def test_not_under_fastcgi_exits_with_a_message():
    p = responder()  # stdin is /dev/null, not a socket
    assert p.returncode != 0
    err = p.stderr.decode()
    assert "not started by a web server" in err, err


def test_extra_argument_is_usage_64():
    for args in (["extra-arg"], ["--check-config", "extra-arg"], ["--check"]):
        p = responder(*args)
        assert p.returncode == 64, (args, p.stderr)
        assert b"usage:" in p.stderr
