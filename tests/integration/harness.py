"""Real servers on loopback for the integration tests.

Each class starts one real process in a temporary directory on a free
port and stops it by PID: redis-server (Debian's), the fake upstream
(tests/upstream/fake_upstream.py, the one stand-in), and the service itself
through lighttpd/run -- the same script and lighttpd config as `make run` --
or, with front="apache" or "nginx", through apache/run or nginx/run (the
todos-fcgi daemon behind Apache or nginx, as `make run-apache`/`run-nginx`).
"""

import base64
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN = os.path.join(TOP, "lighttpd", "run")
FRONTS = ("lighttpd", "apache", "nginx")
RUNS = {front: os.path.join(TOP, front, "run") for front in FRONTS}
UPSTREAM = os.path.join(TOP, "tests", "upstream", "fake_upstream.py")
RESPONDER = os.environ.get("RESPONDER", os.path.join(TOP, "build", "todos-fcgi"))
PYTHON = "/usr/bin/python3"

with open(os.path.join(TOP, "tests", "upstream", "todos.json"), "rb") as f:
    TODOS = json.load(f)


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A port nothing listens on, below the kernel's ephemeral range (and
    10000 further below, for the FastCGI port the run scripts derive from
    it): a port from that range can be the source port of a connect(), and
    a connect() to 127.0.0.1:P from source port P reaches itself (TCP
    simultaneous open), which looks like a server listening on P."""
    low = _ephemeral_low()
    first, last = max(1024, low - 20000), max(2048, low - 10001)
    for _ in range(200):
        port = random.randint(first, last)
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise AssertionError(f"no free port in {first}..{last}")


def tcp_accepts(port, host="127.0.0.1"):
    """True if a server accepts on host:port; a connection that reached
    itself (source port = port) is no server."""
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            return s.getsockname() != s.getpeername()
    except OSError:
        return False


def wait_for(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Stops proc by PID; kills it if it does not stop in time."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def children(pid):
    """PIDs whose parent is pid (from /proc, no process names involved)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(") ", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def started_at(pid):
    """pid's start time in clock ticks, None when it is gone: with the PID
    it names one process, so a reused PID is never signalled."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(") ", 1)[1].split()[19])
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None


def still_running(procs):
    """Those of procs, (pid, start time), that still run: the same process
    (by its start time), not a zombie that only waits to be reaped."""
    return [(p, t) for p, t in procs if started_at(p) == t and pid_alive(p)]


def kill_leftovers(procs, grace=5):
    """Waits up to grace seconds for each (pid, start time) in procs to end,
    then kills those still there (the same process, by its start time)."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not still_running(procs):
            return
        time.sleep(0.1)
    for p, _ in still_running(procs):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def started_in(rundir):
    """(pid, start time) of what a run script started, from the PID files in
    its RUNDIR, and of their children (the responders)."""
    procs = []
    try:
        names = [n for n in os.listdir(rundir) if n.endswith(".pid")]
    except FileNotFoundError:
        names = []
    for name in names:
        try:
            with open(os.path.join(rundir, name)) as f:
                pid = int(f.read())
        except (OSError, ValueError):
            continue
        for p in [pid, *children(pid)]:
            t = started_at(p)
            if t is not None:
                procs.append((p, t))
    return procs


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value (last one wins)
        self.header_list = None
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.headers} {self.body[:200]!r}>"


def assert_json_error(r, status, error=None):
    """r is the project's JSON error: the status, and a body of exactly
    {"error": <a non-empty message>, "status": <the same status>}; with
    error, that very message."""
    assert r.status == status, r
    assert r.headers["content-type"] == "application/json", r
    assert int(r.headers["content-length"]) == len(r.body), r
    assert r.json() == {"error": r.json()["error"], "status": status}, r
    assert isinstance(r.json()["error"], str) and r.json()["error"], r
    if error is not None:
        assert r.json()["error"] == error, r


def http_request(port, method, path, headers=None, body=None, timeout=30, host="127.0.0.1"):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        response = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        response.header_list = [(k.lower(), v) for k, v in r.getheaders()]
        return response
    finally:
        conn.close()


class Redis:
    """A real redis-server on a loopback TCP port (or, with unix=True, a
    unix socket in its directory), restartable on that address."""

    def __init__(self, tmpdir, unix=False):
        self.dir = str(tmpdir)
        self.port = free_port()
        self.socket = os.path.join(self.dir, "redis.sock") if unix else None
        self.proc = None

    @property
    def url(self):
        if self.socket:
            return f"unix://{self.socket}"
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        where = (["--port", "0", "--unixsocket", self.socket] if self.socket else
                 ["--bind", "127.0.0.1", "--port", str(self.port)])
        self.proc = subprocess.Popen(
            ["redis-server", *where,
             "--save", "", "--appendonly", "no", "--dir", self.dir,
             "--logfile", os.path.join(self.dir, "redis.log")])
        wait_for(lambda: self.ping(), 10, "redis-server to answer PING")
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None:
            stop_process(self.proc, sig)
            self.proc = None

    def ping(self):
        try:
            return self.cli("PING") == "PONG"
        except subprocess.CalledProcessError:
            return False

    def cli(self, *args):
        return self.cli_bytes(*args).decode(errors="surrogateescape")

    def cli_bytes(self, *args):
        where = ["-s", self.socket] if self.socket else ["-h", "127.0.0.1", "-p", str(self.port)]
        out = subprocess.run(["redis-cli", *where, *args],
                             capture_output=True, check=True, timeout=10)
        return out.stdout.rstrip(b"\n")

    def info(self, field):
        for line in self.cli("INFO", "all").splitlines():
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
        raise KeyError(field)


class Upstream:
    """The fake JSONPlaceholder, driven through its control API."""

    def __init__(self, tmpdir):
        self.dir = str(tmpdir)
        self.proc = None
        self.port = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        port_file = os.path.join(self.dir, "upstream.port")
        self.proc = subprocess.Popen([PYTHON, UPSTREAM, "--quiet", "--port-file", port_file])
        wait_for(lambda: os.path.exists(port_file), 10, "the fake upstream to listen")
        with open(port_file) as f:
            self.port = int(f.read())
        return self

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def control(self, path, payload=None):
        body = None if payload is None else json.dumps(payload)
        r = http_request(self.port, "POST" if payload is not None or path == "reset" else "GET",
                         "/__control/" + path, body=body)
        assert r.status == 200, r
        return r.json()

    def reset(self):
        return self.control("reset", {})

    def fault(self, **spec):
        spec.setdefault("path", "*")
        return self.control("fault", spec)

    def override(self, path, body, status=200):
        """Serves body (str: as UTF-8; bytes: as they are) at path."""
        spec = {"path": path, "status": status}
        if isinstance(body, bytes):
            spec["body_base64"] = base64.b64encode(body).decode()
        else:
            spec["body"] = body
        return self.control("override", spec)

    def stats(self):
        return self.control("stats")

    def count(self, path=None):
        s = self.stats()
        return s["total"] if path is None else s["requests"].get(path, 0)


class Service:
    """lighttpd/run with its lighttpd and responders, as `make run` starts them;
    front="apache" or "nginx": apache/run or nginx/run, the web server in
    front of the todos-fcgi daemon and its workers."""

    def __init__(self, tmpdir, front="lighttpd", **env):
        self.dir = str(tmpdir)
        self.front = front
        self.run = RUNS[front]
        self.port = int(env.pop("PORT", free_port()))
        self.env = dict(os.environ)
        self.env.update({"PORT": str(self.port), "RUNDIR": os.path.join(self.dir, "run"),
                         "RESPONDER": RESPONDER, "FCGI_PROCS": "2", "LOG_LEVEL": "warn"})
        if front == "nginx":
            # FCGI_PROCS must exceed the connections nginx keeps (nginx/run).
            self.env.update({"NGINX_WORKERS": "1", "NGINX_KEEPALIVE": "2", "FCGI_PROCS": "4"})
        self.env.update({k: str(v) for k, v in env.items() if v is not None})
        for k, v in env.items():
            if v is None:
                self.env.pop(k, None)
        # Where to reach it: BIND if that is an IPv6 address, else 127.0.0.1.
        bind = self.env.get("BIND", "").strip("[]")
        self.host = bind if ":" in bind else "127.0.0.1"
        self.proc = None
        self.log = os.path.join(self.dir, "service.log")

    def start(self, wait=True):
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([self.run], env=self.env, stdout=self.logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            # The script says "starting on" once the web server listens.
            wait_for(lambda: self.listening() and "starting on" in self.output(), 20,
                     f"the service on port {self.port}")
            self.await_responders()
            self.started_procs = self.started()
        return self

    def await_responders(self, timeout=10):
        """lighttpd may accept before it has forked every responder (seen
        under ASan on a loaded machine): wait, briefly, until FCGI_PROCS
        of them run, so that tests which count them see all.  Not an
        assertion: a test of responders that fail to start sees that."""
        procs = self.env.get("FCGI_PROCS", "")
        if self.front != "lighttpd" or not procs.isdigit():
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if len(self.responder_pids()) >= int(procs):
                    return
            except OSError:
                pass
            time.sleep(0.05)

    def listening(self):
        """The web server accepts on PORT.  Its PID file first: nginx/run's
        `nginx -t` binds and listens on PORT for a moment, and a connection
        it accepted then is reset when it exits (seen as ConnectionReset or
        Refused on the first request of a test)."""
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.front}/run exited {self.proc.returncode}:\n{self.output()}")
        pidfile = os.path.join(self.rundir, f"{self.front}.pid")
        return os.path.exists(pidfile) and tcp_accepts(self.port, self.host)

    def output(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def tree(self):
        """(pid, start time) of what the script started, as seen once it
        served, and of their children now (responders restarted since)."""
        started = list(getattr(self, "started_procs", []))
        for p, t in list(started):
            if started_at(p) == t:
                started += [(c, started_at(c)) for c in children(p)]
        return sorted({(p, t) for p, t in started if t is not None})

    def stop(self):
        if self.proc is not None:
            tree = self.tree()
            stop_process(self.proc)
            self.proc = None
            self.logf.close()
            # Nothing it started outlives the test, even if the script was
            # killed (past stop_process's timeout) before its own stop ended.
            kill_leftovers(tree)

    def started(self):
        """(pid, start time) of what the script started, from the PID files
        in RUNDIR, and of their children (the responders)."""
        return started_in(self.rundir)

    @property
    def rundir(self):
        return self.env["RUNDIR"]

    def lighttpd_pid(self):
        with open(os.path.join(self.rundir, "lighttpd.pid")) as f:
            return int(f.read())

    def front_pid(self):
        """The web server's PID (lighttpd, apache or nginx)."""
        with open(os.path.join(self.rundir, f"{self.front}.pid")) as f:
            return int(f.read())

    def daemon_pid(self):
        """apache/nginx: the todos-fcgi daemon (its workers are the responders)."""
        with open(os.path.join(self.rundir, "daemon.pid")) as f:
            return int(f.read())

    def responder_pids(self):
        if self.front == "lighttpd":
            return children(self.lighttpd_pid())
        return children(self.daemon_pid())

    def get(self, path, method="GET", headers=None, body=None, timeout=30):
        return http_request(self.port, method, path, headers=headers, body=body, timeout=timeout,
                            host=self.host)
