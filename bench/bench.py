#!/usr/bin/python3
"""bench/bench.py: `make bench`.  How fast is a cache HIT, next to the
fastest this architecture can answer?

Starts everything itself on 127.0.0.1 (free ports, one temporary
directory, each process stopped by PID at the end):

  - a redis-server on a unix socket, like `make run`'s private one;
  - the fake upstream (tests/upstream/fake_upstream.py), 120-700 ms a request;
  - A: the project, through lighttpd/run and lighttpd/lighttpd.conf;
  - B: the ceiling, bench/const_fcgi (one constant answer: the status,
    headers and body of a project HIT, captured here) through the same
    lighttpd/run and config;
  - C: lighttpd serving that body as a static file (generated config,
    mod_staticfile only);
  - A0, in the random-id scenarios only: A with LOCAL_CACHE_BYTES=0, so
    that every HIT is a Redis GET and the number of keys in Redis can show;
  - A-nginx and B-nginx, in the "nginx front" scenarios: A and B behind
    nginx/run instead (the daemon's --listen workers, kept FastCGI
    connections, nginx/run's default NGINX_WORKERS, NGINX_KEEPALIVE and
    FCGI_PROCS), next to B for B-nginx / B.

Then measures with wrk, the servers alternating in every repetition.

After that (everything above stopped first), the cache scenarios, each
server with its own fake upstream (120-700 ms) so that the upstream's
request counts are per server, started afresh for each scenario:

  - project: the project in its default configuration through lighttpd/run
    (as `make run`: no FCGI_PROCS or thread setting, LOG_LEVEL left at
    info), with its own redis-server on a unix socket;
  - nginx: nginx proxy_cache in front of its upstream (generated config:
    proxy_cache_valid, proxy_cache_use_stale updating error timeout,
    proxy_cache_background_update, proxy_cache_lock);
  - varnish: varnishd with a generated VCL (beresp.ttl, beresp.grace 60 s).

  cold            empty caches; wrk, 64 connections, random ids 1..COLD_IDS,
                  COLD_SECONDS; the project must fetch each id from the
                  upstream at most once (counted per id against the ids
                  wrk asked for, see bench/wrk.lua's BENCH_TRACK); every
                  server keeps an entry fresh for 60 s (the project's
                  default CACHE_TTL), so nothing expires during the run.
  waves           all 200 ids fetched first (upstream latency off), then
                  wrk, 32 connections, random ids, WAVES_SECONDS, with
                  entries fresh for 3 s and usable stale for 60 s (project:
                  CACHE_TTL=3 STALE_WHILE_REVALIDATE=60 STALE_TTL=60), so
                  that every key goes stale about every 3 s while read;
  waves-noexpire  the same load on the project with CACHE_TTL=3600, the
                  rate that waves is held against.

For each: 2xx/s, non-2xx answers, socket errors, p50/p99/max latency
(wrk's), upstream requests per key; then the project's responders'
memory (/proc/PID/smaps_rollup: RSS, PSS, Private) after each run, and
the targets (printed, never enforced).  All of it goes to
bench/results/latest.{md,json}; the chart (latest.png) shows the HIT
scenarios only (see bench/results/README.md).

Environment: BENCH_QUICK=1 (1 s runs, 1 repetition, 10,000 extra keys,
20 cold ids, cold 2 s, waves 3 s), or each of BENCH_SECONDS, BENCH_REPS,
BENCH_KEYS, BENCH_COLD_IDS, BENCH_COLD_SECONDS, BENCH_WAVES_SECONDS;
BENCH_ONLY=hit,cold,waves (a comma-separated subset: "hit" is everything
before the cache scenarios, "waves" includes waves-noexpire; default all
three); RESPONDER (todos-fcgi) and CONST_FCGI (const_fcgi) binaries.
Exit status 0 when every step ran, whatever the numbers; 1 when something
could not run or the project's cold start or cold scenario asked the
upstream more than once for an id.
"""

import http.client
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.dont_write_bytecode = True      # write nothing outside bench/
import harness  # noqa: E402  the integration tests' real servers

RESULTS = os.path.join(HERE, "results")
LUA = os.path.join(HERE, "wrk.lua")
CONST = os.environ.get("CONST_FCGI") or os.path.join(TOP, "build", "bench", "const_fcgi")
RESPONDER = os.environ.get("RESPONDER") or os.path.join(TOP, "build", "todos-fcgi")


class BenchError(Exception):
    """Something could not run; the bench exits 1."""


def env_int(name, default, low, high):
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SystemExit(f"bench: {name}: '{raw}' is not a number in {low}..{high}")
    return int(raw)


QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
SECONDS = env_int("BENCH_SECONDS", 1 if QUICK else 5, 1, 600)
REPS = env_int("BENCH_REPS", 1 if QUICK else 3, 1, 99)
KEYS = env_int("BENCH_KEYS", 10_000 if QUICK else 1_000_000, 1, 50_000_000)
COLD_IDS = env_int("BENCH_COLD_IDS", 20 if QUICK else 200, 1, 200)
COLD_SECONDS = env_int("BENCH_COLD_SECONDS", 2 if QUICK else 10, 1, 600)
WAVES_SECONDS = env_int("BENCH_WAVES_SECONDS", 3 if QUICK else 15, 1, 600)
GROUPS = ("hit", "cold", "waves")


def env_groups(name):
    raw = os.environ.get(name, "")
    if raw.strip() == "":
        return set(GROUPS)
    chosen = {g.strip() for g in raw.split(",") if g.strip()}
    if not chosen or chosen - set(GROUPS):
        raise SystemExit(f"bench: {name}: '{raw}' is not a comma-separated subset of "
                         + ",".join(GROUPS))
    return chosen


ONLY = env_groups("BENCH_ONLY")
COLD_CLIENTS = 64          # concurrent clients of the cold start
COLD_COPIES = 2            # each cold id is asked for this many times
TODOS = 200                # ids the upstream knows
LATENCY_MS = (120, 700)    # the upstream's, like the real JSONPlaceholder
WRK_THREADS = 2
CACHE_TTL = 86400          # entries stay fresh for the whole run: every
                           # measured answer is a HIT, never a STALE refresh
PREFIX = "todos:v1:"       # the project's default CACHE_PREFIX
SERVERS = ("A", "A0", "B", "C", "A-nginx", "B-nginx")
SERVER_NAMES = {"A": "A project", "A0": "A0 project, LOCAL_CACHE_BYTES=0",
                "B": "B const FastCGI", "C": "C static file",
                "A-nginx": "A-nginx project, nginx/run",
                "B-nginx": "B-nginx const FastCGI, nginx/run"}
# Each server's ceiling, for the "vs ceiling" column: B-nginx's is B, the
# lighttpd ceiling, so that the row shows what the front alone changes.
CEILING = {"A-nginx": "B-nginx", "B-nginx": "B"}
ABC = ("A", "B", "C")
# B in the nginx rows too: B-nginx / B from the same alternation.
NGINX = ("A-nginx", "B-nginx", "B")
# A0 is the project with its in-process cache off, so that every HIT is a
# Redis GET: with it on (the default), a HIT of a todo the responder has
# seen does not reach Redis, and the number of keys there could not matter.
WITH_A0 = ("A", "A0", "B", "C")
# Headers lighttpd (and nginx) add themselves; the rest of a HIT's head is
# the responder's.
LIGHTTPD_HEADERS = {"date", "server", "connection", "transfer-encoding", "keep-alive"}
# -- the cache scenarios (cold, waves): each row a server with its own
# upstream; the project's rows in its default configuration but for the
# freshness the scenario needs.
ROWS = ("project", "nginx", "varnish")
ROW_NAMES = {"project": "project (lighttpd/run, defaults)",
             "nginx": "nginx proxy_cache", "varnish": "Varnish"}
# The project's settings that must stay unset, so that lighttpd/run and
# the responder apply their defaults (None pops them from the environment
# that harness.Service passes on); the harness's own defaults otherwise.
DEFAULTS_ENV = {"FCGI_PROCS": None, "FCGI_THREADS": None, "LOG_LEVEL": None}
STALE_S = 60               # waves: how long past freshness an entry is used
VARNISHD = shutil.which("varnishd") or "/usr/sbin/varnishd"
# (key, title, seconds, connections, ids, warm first, rows, the project's
# environment, the references' freshness in seconds).  cold: the project's
# defaults (CACHE_TTL 60): nothing expires during the run, so every
# upstream request is a fill; the references keep entries fresh as long.
CACHE_SCENARIOS = [
    ("cold", "cold: empty caches, random ids 1..{ids}, {conns} connections, {secs} s",
     COLD_SECONDS, 64, COLD_IDS, False, ROWS, {}, 60),
    ("waves", "waves: 200 ids warm, fresh 3 s, stale usable 60 s; random ids, "
     "{conns} connections, {secs} s", WAVES_SECONDS, 32, TODOS, True, ROWS,
     {"CACHE_TTL": 3, "STALE_WHILE_REVALIDATE": STALE_S, "STALE_TTL": STALE_S}, 3),
    ("waves-noexpire", "waves-noexpire: the same, entries fresh for the whole run "
     "(CACHE_TTL=3600)", WAVES_SECONDS, 32, TODOS, True, ("project",),
     {"CACHE_TTL": 3600}, 3600),
]
# The targets printed next to the figures (never enforced).
TARGET_COLD_P99_MS = 1000
TARGET_WAVES_P99_MS = 20
TARGET_WAVES_VS_NOEXPIRE = 0.8
TARGET_PRIVATE_KIB = 8 * 1024

# nginx/run's defaults (None: not set, so that the script's own apply);
# the harness's nginx Service would otherwise set smaller test values.
NGINX_ENV = {"NGINX_WORKERS": None, "NGINX_KEEPALIVE": None, "FCGI_PROCS": None}

# (key, title, short label, path, connections, body set, random ids, phase,
#  servers); phase 2 runs after the synthetic keys are in Redis.
SCENARIOS = [
    ("one-c1", "HIT /get_todos/1, 1 connection", "todo c1",
     "/get_todos/1", 1, "one", 0, 1, ABC),
    ("one-c32", "HIT /get_todos/1, 32 connections", "todo c32",
     "/get_todos/1", 32, "one", 0, 1, ABC),
    ("one-c256", "HIT /get_todos/1, 256 connections", "todo c256",
     "/get_todos/1", 256, "one", 0, 1, ABC),
    ("list-c32", "HIT /get_todos (list), 32 connections", "list c32",
     "/get_todos", 32, "list", 0, 1, ABC),
    ("rand-c32", "HIT random id 1..200, 32 connections, 201 keys in Redis", "random c32",
     "/get_todos/1", 32, "rand", TODOS, 1, WITH_A0),
    ("one-c32-nginx", "HIT /get_todos/1, 32 connections, nginx front", "todo c32 nginx",
     "/get_todos/1", 32, "one", 0, 1, NGINX),
    ("list-c32-nginx", "HIT /get_todos (list), 32 connections, nginx front", "list c32 nginx",
     "/get_todos", 32, "list", 0, 1, NGINX),
    ("rand-c32-nginx", "HIT random id 1..200, 32 connections, nginx front",
     "random c32 nginx", "/get_todos/1", 32, "rand", TODOS, 1, NGINX),
    # C never reads Redis: B alone shows any drift since the row above.
    ("rand-c32-big", "HIT random id 1..200, 32 connections, +{keys} keys in Redis",
     "random c32 +keys", "/get_todos/1", 32, "rand", TODOS, 2, ("A", "A0", "B")),
]


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def http_get(port, path, timeout=60):
    """(status, reason, [(name, value)...] as sent, body); one connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        return r.status, r.reason, r.getheaders(), body
    finally:
        conn.close()


def own_headers(headers):
    return [(k, v) for k, v in headers if k.lower() not in LIGHTTPD_HEADERS]


def header(headers, name):
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


class RedisConn:
    """A minimal RESP client on a unix socket: enough for INFO, GET, STRLEN,
    MEMORY USAGE and a pipelined fill, with no module to install."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(120)
        self.sock.connect(path)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        self.sock.close()

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def _more(self):
        del self.buf[:self.pos]
        self.pos = 0
        data = self.sock.recv(1 << 16)
        if not data:
            raise BenchError("redis closed the connection")
        self.buf += data

    def _line(self):
        while (i := self.buf.find(b"\r\n", self.pos)) < 0:
            self._more()
        line = bytes(self.buf[self.pos:i])
        self.pos = i + 2
        return line

    def _exact(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._more()
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n + 2
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise BenchError("redis: " + rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            return None if int(rest) < 0 else self._exact(int(rest))
        if kind == b"*":
            return None if int(rest) < 0 else [self.reply() for _ in range(int(rest))]
        raise BenchError(f"redis: cannot read reply {line[:40]!r}")

    def cmd(self, *args):
        self.sock.sendall(self.encode(*args))
        return self.reply()

    def info(self, section):
        fields = {}
        for line in self.cmd("INFO", section).decode().splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                fields[k] = v
        return fields

    def used_memory(self):
        return int(self.info("memory")["used_memory"])

    def clients_memory(self):
        """MEMORY STATS's clients.normal: the normal clients' buffers."""
        stats = self.cmd("MEMORY", "STATS")
        fields = dict(zip(stats[::2], stats[1::2]))
        return int(fields[b"clients.normal"])

    def settled_memory(self, idle=2.5):
        """(used_memory, the same without the clients' buffers) once those
        buffers are back to idle size: Redis frees an idle client's query
        buffer after about 2 s, and a busy one holds tens of KB, as much as
        100 cached todos."""
        time.sleep(idle)
        last = None
        for _ in range(20):
            now = self.used_memory()
            if now == last:
                break
            last = now
            time.sleep(0.5)
        return now, now - self.clients_memory()

    def fill(self, count, key_fmt, value, px, batch=20000):
        """SET key_fmt % n value PX px for n in 0..count-1, pipelined."""
        tail = b"\r\n$%d\r\n%s\r\n$2\r\nPX\r\n$%d\r\n%d\r\n" % (
            len(value), value, len(str(px)), px)
        done = 0
        while done < count:
            n = min(batch, count - done)
            parts = []
            for i in range(done, done + n):
                key = key_fmt % i
                parts.append(b"*5\r\n$3\r\nSET\r\n$%d\r\n%s%s" % (len(key), key, tail))
            self.sock.sendall(b"".join(parts))
            want = b"+OK\r\n" * n
            while len(self.buf) - self.pos < len(want):
                self._more()
            if bytes(self.buf[self.pos:self.pos + len(want)]) != want:
                raise BenchError("redis refused a SET of the synthetic keys")
            self.pos += len(want)
            done += n


class Upstream(harness.Upstream):
    """The harness's fake upstream, started with its latency range.
    quiet: its stderr to upstream.log in its directory, not the bench's:
    Python's socketserver prints a traceback for every kept-alive
    connection a client resets while idle (Varnish does)."""

    def __init__(self, tmpdir, quiet=False):
        super().__init__(tmpdir)
        self.quiet = quiet

    def start(self):
        port_file = os.path.join(self.dir, "upstream.port")
        err = open(os.path.join(self.dir, "upstream.log"), "ab") if self.quiet else None
        try:
            self.proc = subprocess.Popen(
                [harness.PYTHON, harness.UPSTREAM, "--quiet", "--port-file", port_file,
                 "--latency-ms", "%d-%d" % LATENCY_MS], stderr=err)
        finally:
            if err is not None:
                err.close()
        harness.wait_for(lambda: os.path.exists(port_file), 10, "the fake upstream to listen")
        with open(port_file) as f:
            self.port = int(f.read())
        return self

    def latency(self, low, high):
        self.control("latency", {"min_ms": low, "max_ms": high})


class Static:
    """Server C: lighttpd serving a directory, mod_staticfile only, with a
    config generated here in the same style as lighttpd/lighttpd.conf."""

    def __init__(self, tmpdir, docroot):
        self.dir = str(tmpdir)
        self.docroot = docroot
        self.port = harness.free_port()
        self.proc = None
        self.log = os.path.join(self.dir, "lighttpd.log")

    def start(self):
        conf = os.path.join(self.dir, "lighttpd.conf")
        with open(conf, "w") as f:
            f.write(
                "# Generated by bench/bench.py: server C, a static file.\n"
                f"server.port          = {self.port}\n"
                'server.bind          = "127.0.0.1"\n'
                f'server.document-root = "{self.docroot}"\n'
                'server.tag           = "todos-fcgi"\n'
                f'server.errorlog      = "{self.dir}/error.log"\n'
                'server.compat-module-load = "disable"\n'
                'server.modules       = ( "mod_staticfile" )\n'
                'mimetype.assign      = ( "" => "application/json" )\n')
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(["lighttpd", "-D", "-f", conf], stdout=self.logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        harness.wait_for(self.listening, 10, f"static lighttpd on port {self.port}")
        return self

    def listening(self):
        if self.proc.poll() is not None:
            with open(self.log, "rb") as f:
                raise BenchError(f"static lighttpd exited {self.proc.returncode}: "
                                 f"{f.read().decode(errors='replace')}")
        return harness.tcp_accepts(self.port)

    def stop(self):
        if self.proc is not None:
            harness.stop_process(self.proc)
            self.proc = None
            self.logf.close()


class Reference:
    """A reference cache (nginx or Varnish) in front of its own upstream,
    run in the foreground from a generated config in a directory of its
    own: both drop to their unprivileged users when started as root (nginx
    workers as nobody, Varnish's manager and cache process as varnish and
    vcache), which must be able to enter it, so it is a world-traversable
    temporary directory rather than one under the bench's private one."""

    name = "?"

    def __init__(self, upstream_port, ttl, stale):
        self.dir = tempfile.mkdtemp(prefix=f"todos-bench-{self.name}-")
        os.chmod(self.dir, 0o755)
        self.upstream_port = upstream_port
        self.ttl = ttl
        self.stale = stale
        self.port = harness.free_port()
        self.proc = None
        self.log = os.path.join(self.dir, f"{self.name}.log")

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
        return path

    def command(self):
        raise NotImplementedError

    def start(self):
        cmd = self.command()
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        harness.wait_for(self.listening, 30, f"{self.name} on port {self.port}")
        return self

    def output(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def listening(self):
        if self.proc.poll() is not None:
            raise BenchError(f"{self.name} exited {self.proc.returncode}:\n{self.output()}")
        return harness.tcp_accepts(self.port)

    def stop(self):
        if self.proc is not None:
            harness.stop_process(self.proc, timeout=20)
            self.proc = None
            self.logf.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class NginxCache(Reference):
    """nginx proxy_cache: /get_todos/<id> -> the upstream's /todos/<id>,
    kept-alive upstream connections, entries fresh for ttl seconds whatever
    the upstream's Cache-Control says, served stale while one background
    request refreshes them (and on upstream errors), one fill per key at a
    time; an entry unread for `stale` seconds is dropped."""

    name = "nginx"

    def command(self):
        t = self.dir
        conf = self.write("nginx.conf", f"""# Generated by bench/bench.py: the nginx proxy_cache reference.
worker_processes auto;
pid {t}/nginx.pid;
error_log stderr warn;

events {{
	worker_connections 1024;
}}

http {{
	access_log off;
	server_tokens off;
	client_body_temp_path {t}/body;
	proxy_temp_path {t}/proxy;
	fastcgi_temp_path {t}/fastcgi;
	uwsgi_temp_path {t}/uwsgi;
	scgi_temp_path {t}/scgi;
	proxy_cache_path {t}/cache levels=1:2 keys_zone=todos:10m max_size=64m
	                 inactive={self.stale}s use_temp_path=off;

	upstream fake_upstream {{
		server 127.0.0.1:{self.upstream_port};
		keepalive 32;
	}}

	server {{
		listen 127.0.0.1:{self.port};

		location /get_todos/ {{
			proxy_pass http://fake_upstream/todos/;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_cache todos;
			proxy_ignore_headers Cache-Control Expires;
			proxy_cache_valid 200 {self.ttl}s;
			proxy_cache_use_stale updating error timeout;
			proxy_cache_background_update on;
			proxy_cache_lock on;
			add_header X-Cache $upstream_cache_status;
		}}
	}}
}}
""")
        return ["nginx", "-p", t, "-c", conf, "-g", "daemon off;", "-e", "stderr"]


class Varnish(Reference):
    """varnishd in the foreground: /get_todos/<id> -> the upstream's
    /todos/<id>, beresp.ttl = ttl, beresp.grace = stale (a stale object is
    served while one background fetch refreshes it), 64 MB of malloc
    storage, no management port.  Started as root it runs in its unix jail
    (manager as varnish, cache process as vcache); otherwise with -j none.
    Stopped by the manager's PID (it stops its cache process)."""

    name = "varnish"

    def command(self):
        vcl = self.write("todos.vcl", f"""# Generated by bench/bench.py: the Varnish reference.
vcl 4.1;

backend fake_upstream {{
	.host = "127.0.0.1";
	.port = "{self.upstream_port}";
}}

sub vcl_backend_fetch {{
	set bereq.url = regsub(bereq.url, "^/get_todos/", "/todos/");
}}

sub vcl_backend_response {{
	set beresp.ttl = {self.ttl}s;
	set beresp.grace = {self.stale}s;
}}

sub vcl_deliver {{
	if (obj.hits > 0) {{
		set resp.http.X-Cache = "HIT";
	}} else {{
		set resp.http.X-Cache = "MISS";
	}}
}}
""")
        jail = [] if os.geteuid() == 0 else ["-j", "none"]
        return [VARNISHD, "-F", *jail, "-n", os.path.join(self.dir, "varnishd"),
                "-a", f"127.0.0.1:{self.port}", "-T", "none", "-f", vcl,
                "-s", "malloc,64m"]


def fire(port, paths, clients):
    """Asks for every path once, clients at a time, all clients starting
    together.  Returns ([(path, status, X-Cache, seconds)], wall seconds);
    X-Cache is "HIT (collapsed)" for a HIT that waited for another's fill."""
    results = []
    lock = threading.Lock()
    queue = list(paths)
    start = threading.Barrier(clients + 1)

    def worker():
        start.wait()
        while True:
            with lock:
                if not queue:
                    return
                path = queue.pop(0)
            t0 = time.monotonic()
            try:
                status, _, headers, _ = http_get(port, path, timeout=600)
                xcache = header(headers, "x-cache")
                if "collapsed" in (header(headers, "cache-status") or ""):
                    xcache += " (collapsed)"
            except OSError as e:
                status, xcache = 0, type(e).__name__
            took = time.monotonic() - t0
            with lock:
                results.append((path, status, xcache, took))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.monotonic()
    for t in threads:
        t.join()
    return results, time.monotonic() - t0


def wrk(port, path, conns, seconds, random_ids=0, track=False):
    """One wrk run; counts only answers below 400 (2xx here: the bench
    never sends a conditional request, so no 3xx can come back).

    track: also count the requests sent per id ("asked", {id: n}; see
    wrk.lua), and give every request until the end of the run to answer:
    wrk leaves an answer slower than its --timeout (2 s by default) out of
    the latency distribution, which would hide exactly the slow answers
    the cache scenarios are about."""
    cmd = ["wrk", f"-t{min(WRK_THREADS, conns)}", f"-c{conns}", f"-d{seconds}s",
           "-s", LUA, f"http://127.0.0.1:{port}{path}"]
    if track:
        cmd[-1:-1] = ["--timeout", f"{seconds + 2}s"]
    env = dict(os.environ, BENCH_IDS=str(random_ids), BENCH_TRACK="1" if track else "0")
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                             timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish: {' '.join(cmd)}") from None
    line = next((l for l in out.stdout.splitlines() if l.startswith("BENCH ")), None)
    if out.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({out.returncode}): {' '.join(cmd)}\n"
                         f"{out.stdout}{out.stderr}")
    s = json.loads(line[len("BENCH "):])
    ok = s["requests"] - s["status"]
    return {
        "rps": ok / (s["duration_us"] / 1e6),
        "ok": ok,
        "p50_ms": s["p50_us"] / 1000,
        "p99_ms": s["p99_us"] / 1000,
        "max_ms": s["max_us"] / 1000,
        "non2xx": s["status"],
        "socket_errors": s["connect"] + s["read"] + s["write"] + s["timeout"],
        "raw": s,
        "stdout": out.stdout,
    }


def vm_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return None


def smaps_rollup(pid):
    """RSS, PSS and Private (Private_Clean + Private_Dirty) of one process,
    in KiB, from /proc/PID/smaps_rollup; None if it is gone."""
    fields = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "kB":
                    fields[parts[0].rstrip(":")] = int(parts[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return {"pid": pid, "rss_kib": fields["Rss"], "pss_kib": fields["Pss"],
            "private_kib": fields["Private_Clean"] + fields["Private_Dirty"],
            "private_clean_kib": fields["Private_Clean"],
            "private_dirty_kib": fields["Private_Dirty"],
            "anonymous_kib": fields.get("Anonymous"), "threads": thread_count(pid)}


def thread_count(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return None


def upstream_per_id(stats):
    """{id: upstream requests} for the /todos/<id> paths of a stats answer."""
    per_id = {}
    for path, n in stats["requests"].items():
        tail = path[len("/todos/"):]
        if path.startswith("/todos/") and tail.isdigit():
            per_id[int(tail)] = per_id.get(int(tail), 0) + n
    return per_id


def fetch_check(per_id, asked):
    """One upstream fetch per key and fill: the upstream's count for each id
    against the ids asked for.  An id asked for but never fetched is one
    whose only requests were cut off by the end of the run."""
    asked = set(asked)
    twice = sorted(i for i, n in per_id.items() if n > 1)
    unasked = sorted(set(per_id) - asked)
    return {"ids_asked": len(asked), "ids_fetched": len(per_id),
            "upstream_requests": sum(per_id.values()),
            "fetched_more_than_once": twice, "fetched_not_asked": unasked,
            "asked_not_fetched": len(asked - set(per_id)),
            "ok": not twice and not unasked}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def command_output(*cmd):
    """The first line a version command prints (nginx -v: on stderr)."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (r.stdout.strip() or r.stderr.strip()).splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "kernel": platform.release(),
        "lighttpd": command_output("lighttpd", "-v"),
        "redis": command_output("redis-server", "--version"),
        "wrk": command_output("wrk", "-v"),
        "nginx": command_output("nginx", "-v"),
        "varnish": command_output(VARNISHD, "-V"),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


class Bench:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="todos-bench-")
        self.stoppers = []          # newest last
        self.out = {"quick": QUICK, "seconds": SECONDS, "reps": REPS, "keys": KEYS,
                    "cold_ids": COLD_IDS, "cold_clients": COLD_CLIENTS,
                    "wrk_threads": WRK_THREADS, "runs": [], "notes": []}
        self.ok = True

    def subdir(self, name):
        path = os.path.join(self.tmp, name)
        os.makedirs(path)
        return path

    def started(self, server):
        self.stoppers.append(server)
        return server

    def stop_all(self):
        for server in reversed(self.stoppers):
            try:
                server.stop()
            except Exception as e:  # keep stopping the others
                log(f"stopping {type(server).__name__}: {e}")
        self.stoppers = []

    # -- the servers --------------------------------------------------------

    def start_base(self):
        self.redis = self.started(harness.Redis(self.subdir("redis"), unix=True).start())
        self.rconn = RedisConn(self.redis.socket)
        self.upstream = self.started(Upstream(self.subdir("upstream")).start())
        # FCGI_PROCS, FCGI_THREADS and LOG_LEVEL unset: lighttpd/run's
        # defaults, as with `make run` (an access line per request).
        self.a = self.started(harness.Service(
            self.subdir("A"), RESPONDER=RESPONDER, REDIS_URL=self.redis.url,
            UPSTREAM_URL=self.upstream.url, CACHE_TTL=CACHE_TTL,
            FCGI_PROCS=None, LOG_LEVEL=None).start())
        self.procs = len(self.a.responder_pids())
        log(f"A (todos-fcgi) on port {self.a.port}, {self.procs} responders; "
            f"redis {self.redis.socket}; upstream on port {self.upstream.port}")

    def start_ceilings(self):
        """A0; then B and C for each body set, from the HITs captured in
        capture()."""
        self.a0 = self.started(harness.Service(
            self.subdir("A0"), RESPONDER=RESPONDER, REDIS_URL=self.redis.url,
            UPSTREAM_URL=self.upstream.url, CACHE_TTL=CACHE_TTL, LOCAL_CACHE_BYTES=0,
            FCGI_PROCS=None, LOG_LEVEL=None).start())
        # FCGI_PORT picked here: nginx/run's PORT+10000 may be another
        # server's free port.
        self.an = self.started(harness.Service(
            self.subdir("A-nginx"), front="nginx", RESPONDER=RESPONDER,
            REDIS_URL=self.redis.url, UPSTREAM_URL=self.upstream.url,
            CACHE_TTL=CACHE_TTL, LOG_LEVEL=None, FCGI_PORT=harness.free_port(),
            **NGINX_ENV).start())
        self.b, self.c, self.bn = {}, {}, {}
        for name, cap in self.captures.items():
            d = self.subdir(f"B-{name}")
            resp = os.path.join(d, "response")
            with open(resp, "wb") as f:
                f.write(cap["cgi"])
            self.b[name] = self.started(harness.Service(
                d, RESPONDER=CONST, CONST_RESPONSE=resp, REDIS_URL=self.redis.url,
                FCGI_PROCS=None, LOG_LEVEL=None).start())
            self.bn[name] = self.started(harness.Service(
                self.subdir(f"B-nginx-{name}"), front="nginx", RESPONDER=CONST,
                CONST_RESPONSE=resp, REDIS_URL=self.redis.url, LOG_LEVEL=None,
                FCGI_PORT=harness.free_port(),
                # The constant responder's workers have one thread each:
                # more of them than the 8 connections nginx keeps, or
                # requests wait behind idle kept ones (502s).
                **dict(NGINX_ENV, FCGI_PROCS="16")).start())
            d = self.subdir(f"C-{name}")
            docroot = os.path.join(d, "docroot")
            body = os.path.join(d, "body")
            with open(body, "wb") as f:
                f.write(cap["body"])
            for path in cap["paths"]:
                os.makedirs(os.path.dirname(docroot + path), exist_ok=True)
                os.link(body, docroot + path)
            self.c[name] = self.started(Static(d, docroot).start())

    # -- the steps ----------------------------------------------------------

    def connect_responders(self):
        """Every responder opens its Redis connection on its first request;
        have them all do it now, so that the memory measured next does not
        count their client buffers.  Concurrent asks for the list (slow
        upstream, one fill lock) reach every responder."""
        want = self.procs + 1   # and our own connection
        for n in range(20):
            fire(self.a.port, ["/get_todos"] * (2 * self.procs), 2 * self.procs)
            clients = int(self.rconn.info("clients")["connected_clients"])
            if n > 0 and clients >= want:
                self.out["redis_clients"] = clients
                return
        raise BenchError(f"the {self.procs} responders did not all connect to Redis")

    def cold_start(self):
        ids = list(range(1, COLD_IDS + 1))
        paths = [f"/get_todos/{i}" for i in ids for _ in range(COLD_COPIES)]
        random.Random(1).shuffle(paths)
        # The upstream alone, the same requests at the same concurrency.
        direct, direct_wall = fire(self.upstream.port,
                                   [p.replace("/get_todos/", "/todos/") for p in paths],
                                   COLD_CLIENTS)
        if any(status != 200 for _, status, _, _ in direct):
            raise BenchError("the fake upstream did not answer 200 to every todo")
        self.upstream.reset()   # counts only; the latency stays
        self.mem_before = self.rconn.settled_memory()
        log(f"cold start: {len(paths)} requests for {COLD_IDS} new ids, "
            f"{COLD_CLIENTS} clients, upstream {LATENCY_MS[0]}-{LATENCY_MS[1]} ms")
        cold, wall = fire(self.a.port, paths, COLD_CLIENTS)
        stats = self.upstream.stats()
        ok = [r for r in cold if 200 <= r[1] < 300]
        xcache = {}
        for r in cold:
            xcache[r[2] or "-"] = xcache.get(r[2] or "-", 0) + 1
        # Every request is answered here: each id must be fetched exactly once.
        check = fetch_check(upstream_per_id(stats), ids)
        self.out["cold"] = {
            "requests": len(paths), "distinct_ids": COLD_IDS, "ok": len(ok),
            "wall_s": wall, "rps": len(ok) / wall,
            "p50_ms": percentile([r[3] for r in cold], 50) * 1000,
            "p99_ms": percentile([r[3] for r in cold], 99) * 1000,
            "x_cache": xcache, "statuses": sorted({r[1] for r in cold}),
            "upstream_requests": stats["total"],
            "upstream_paths_fetched_twice": [f"/todos/{i}"
                                             for i in check["fetched_more_than_once"]],
            "fetch_check": check,
            "direct": {"wall_s": direct_wall, "rps": len(direct) / direct_wall,
                       "p50_ms": percentile([r[3] for r in direct], 50) * 1000,
                       "p99_ms": percentile([r[3] for r in direct], 99) * 1000},
        }
        if stats["total"] != COLD_IDS or not check["ok"]:
            self.ok = False
            self.out["notes"].append(
                f"FAILED: the cold start made {stats['total']} upstream requests "
                f"for {COLD_IDS} distinct ids")
        if len(ok) != len(paths):
            raise BenchError(f"cold start: {len(paths) - len(ok)} of {len(paths)} "
                             f"answers were not 2xx (statuses {self.out['cold']['statuses']})")

    def warm(self):
        """The ids the cold start left out, fetched with the upstream's
        latency off (nothing is measured); then Redis's memory per todo."""
        rest = [f"/get_todos/{i}" for i in range(COLD_IDS + 1, TODOS + 1)]
        if rest:
            self.upstream.latency(0, 0)
            try:
                got, _ = fire(self.a.port, rest, 8)
            finally:
                self.upstream.latency(*LATENCY_MS)
            if any(status != 200 for _, status, _, _ in got):
                raise BenchError("warming the remaining ids: not every answer was 200")
        after = self.rconn.settled_memory()
        tracked = self.rconn.info("stats").get("tracking_total_keys", "?")
        keys = [f"{PREFIX}/todos/{i}" for i in range(1, TODOS + 1)]
        usage = [self.rconn.cmd("MEMORY", "USAGE", k, "SAMPLES", "0") for k in keys]
        lengths = [self.rconn.cmd("STRLEN", k) for k in keys]
        if any(u is None for u in usage) or any(n == 0 for n in lengths):
            raise BenchError("not all 200 todos are in Redis after the cold start")
        self.todo_bodies = {}
        for i in range(1, TODOS + 1):
            status, _, headers, body = http_get(self.a.port, f"/get_todos/{i}")
            if status != 200 or header(headers, "x-cache") != "HIT":
                raise BenchError(f"/get_todos/{i} is not a HIT after warming "
                                 f"({status}, {header(headers, 'x-cache')})")
            self.todo_bodies[i] = body
        self.out["redis_memory"] = {
            "used_memory_before": self.mem_before[0], "used_memory_after": after[0],
            "per_todo": (after[0] - self.mem_before[0]) / TODOS,
            "per_todo_without_clients": (after[1] - self.mem_before[1]) / TODOS,
            "tracking_total_keys": tracked,
            "memory_usage_mean": statistics.mean(usage),
            "stored_value_mean": statistics.mean(lengths),
            "body_mean": statistics.mean(len(b) for b in self.todo_bodies.values()),
        }

    def capture(self):
        """Status, headers and body of a HIT for each body set: what B sends
        (as a CGI answer) and C serves (the body, as a file)."""
        by_size = sorted(self.todo_bodies, key=lambda i: (len(self.todo_bodies[i]), i))
        self.rep_id = by_size[len(by_size) // 2]    # the median-sized todo
        sets = {"one": ("/get_todos/1", ["/get_todos/1"]),
                "list": ("/get_todos", ["/get_todos"]),
                "rand": (f"/get_todos/{self.rep_id}",
                         [f"/get_todos/{i}" for i in range(1, TODOS + 1)])}
        self.captures = {}
        for name, (path, paths) in sets.items():
            status, reason, headers, body = http_get(self.a.port, path)
            if status != 200 or header(headers, "x-cache") != "HIT":
                raise BenchError(f"{path}: not a HIT ({status}, {header(headers, 'x-cache')})")
            own = own_headers(headers)
            head = f"Status: {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in own)
            self.captures[name] = {"path": path, "paths": paths, "status": status,
                                   "headers": own, "body": body,
                                   "cgi": head.encode("latin-1") + b"\r\n" + body}
        self.out["captured"] = {n: {"path": c["path"], "headers": c["headers"],
                                    "body_bytes": len(c["body"])}
                                for n, c in self.captures.items()}

    def verify(self):
        """B answers exactly what A captured; C the same body; A0 a HIT."""
        for name, cap in self.captures.items():
            status, _, headers, body = http_get(self.a0.port, cap["path"])
            if status != 200 or header(headers, "x-cache") != "HIT" or body != cap["body"]:
                raise BenchError(f"A0 {cap['path']}: not the same HIT "
                                 f"({status}, {header(headers, 'x-cache')})")
            status, _, headers, body = http_get(self.b[name].port, cap["path"])
            if (status, own_headers(headers), body) != (cap["status"], cap["headers"], cap["body"]):
                raise BenchError(f"B ({name}) does not answer the captured HIT:\n"
                                 f"{status} {own_headers(headers)} {body[:100]!r}\nvs\n"
                                 f"{cap['status']} {cap['headers']} {cap['body'][:100]!r}")
            for path in cap["paths"][:3] + cap["paths"][-1:]:
                status, _, headers, body = http_get(self.c[name].port, path)
                if status != 200 or body != cap["body"]:
                    raise BenchError(f"C ({name}) {path}: {status}, body differs")
            # nginx may order the responder's headers its own way.
            status, _, headers, body = http_get(self.an.port, cap["path"])
            if status != 200 or header(headers, "x-cache") != "HIT" or body != cap["body"]:
                raise BenchError(f"A-nginx {cap['path']}: not the same HIT "
                                 f"({status}, {header(headers, 'x-cache')})")
            status, _, headers, body = http_get(self.bn[name].port, cap["path"])
            if (status, sorted(own_headers(headers)), body) != (
                    cap["status"], sorted(cap["headers"]), cap["body"]):
                raise BenchError(f"B-nginx ({name}) does not answer the captured HIT:\n"
                                 f"{status} {own_headers(headers)} {body[:100]!r}")

    def server_port(self, server, bodies):
        return {"A": self.a, "A0": self.a0, "B": self.b[bodies], "C": self.c[bodies],
                "A-nginx": self.an, "B-nginx": self.bn[bodies]}[server].port

    def warm_up(self):
        """One second of load on every server, once (nothing measured)."""
        targets = [(self.a.port, "/get_todos/1"), (self.a0.port, "/get_todos/1"),
                   (self.an.port, "/get_todos/1"), (self.an.port, "/get_todos")]
        for name, cap in self.captures.items():
            targets += [(self.b[name].port, cap["path"]), (self.c[name].port, cap["path"]),
                        (self.bn[name].port, cap["path"])]
        for port, path in targets:
            subprocess.run(["wrk", "-t1", "-c8", "-d1s", f"http://127.0.0.1:{port}{path}"],
                           capture_output=True, timeout=60, check=True)
        # A's responders saw every id while warming; A-nginx's 16 workers
        # have not, and would fill their in-process caches in the first run.
        subprocess.run(["wrk", "-t1", "-c32", "-d1s", "-s", LUA,
                        f"http://127.0.0.1:{self.an.port}/get_todos/1"],
                       capture_output=True, timeout=60, check=True,
                       env=dict(os.environ, BENCH_IDS=str(TODOS)))

    def run_scenario(self, scenario):
        key, title, _, path, conns, bodies, random_ids, _, servers = scenario
        for rep in range(REPS):
            # A B C, then B C A, then C A B: no server always goes first.
            shift = rep % len(servers)
            order = servers[shift:] + servers[:shift]
            for server in order:
                r = wrk(self.server_port(server, bodies), path, conns, SECONDS, random_ids)
                if r["ok"] == 0:
                    raise BenchError(f"{title}, {server}: no 2xx answer in {SECONDS} s")
                log(f"{key:13} {server} rep {rep + 1}: {r['rps']:9.0f} req/s  "
                    f"p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms"
                    + (f"  non-2xx {r['non2xx']}" if r["non2xx"] else "")
                    + (f"  socket errors {r['socket_errors']}" if r["socket_errors"] else ""))
                self.out["runs"].append(dict(r, scenario=key, server=server, rep=rep + 1))

    def fill_keys(self):
        """KEYS synthetic entries under the project's prefix, outside its key
        space (todos:v1:/synthetic/N), each as big as a stored todo and with
        the same kind of expiry."""
        value = self.rconn.cmd("GET", f"{PREFIX}/todos/{self.rep_id}")
        px = self.rconn.cmd("PTTL", f"{PREFIX}/todos/{self.rep_id}")
        before = self.rconn.used_memory()
        t0 = time.monotonic()
        self.rconn.fill(KEYS, f"{PREFIX}/synthetic/%d".encode(), value, max(px, 1000))
        took = time.monotonic() - t0
        dbsize = self.rconn.cmd("DBSIZE")
        after = self.rconn.used_memory()
        self.out["synthetic"] = {"keys": KEYS, "value_bytes": len(value), "fill_s": took,
                                 "dbsize": dbsize, "per_key": (after - before) / KEYS,
                                 "used_memory_after": after}
        log(f"filled {KEYS:,} synthetic keys in {took:.1f} s; {dbsize:,} keys in Redis")

    def rss(self):
        out = {}
        for label, svc in ([("A", self.a), ("A0", self.a0)]
                           + [(f"B-{n}", s) for n, s in self.b.items()]):
            lpid = svc.lighttpd_pid()
            out[label] = {"lighttpd": vm_rss_kib(lpid),
                          "responders": [vm_rss_kib(p) for p in harness.children(lpid)]}
        for name, s in self.c.items():
            out[f"C-{name}"] = {"lighttpd": vm_rss_kib(s.proc.pid), "responders": []}
        for label, svc in [("A-nginx", self.an)] + [(f"B-nginx-{n}", s)
                                                    for n, s in self.bn.items()]:
            out[label] = {"nginx": vm_rss_kib(svc.front_pid()),
                          "responders": [vm_rss_kib(p) for p in svc.responder_pids()]}
        self.out["rss_kib"] = out

    def run(self):
        t0 = time.monotonic()
        self.out["machine"] = machine()
        self.out["loadavg_before"] = loadavg()
        self.out["only"] = [g for g in GROUPS if g in ONLY]
        tools = ["wrk", "lighttpd", "redis-server"]
        if "hit" in ONLY:
            tools += ["gnuplot", "nginx"]
        if ONLY & {"cold", "waves"}:
            tools += ["nginx", VARNISHD]
        for tool in tools:
            if shutil.which(tool) is None:
                raise BenchError(f"{tool} is not installed (make bench installs it)")
        for binary in (RESPONDER, CONST) if "hit" in ONLY else (RESPONDER,):
            if not os.access(binary, os.X_OK):
                raise BenchError(f"{binary} is not built (make bench builds it)")
        if "hit" in ONLY:
            self.run_hits()
            self.stop_all()     # nothing of it shares the cores with what follows
        if ONLY & {"cold", "waves"}:
            self.run_cache()
        self.out["loadavg_after"] = loadavg()
        self.out["elapsed_s"] = time.monotonic() - t0

    def run_hits(self):
        self.start_base()
        self.connect_responders()
        self.cold_start()
        self.warm()
        self.capture()
        self.start_ceilings()
        self.verify()
        self.out["procs"] = self.procs
        # nginx/run's own line: its workers, keepalive and daemon workers.
        self.out["nginx"] = {"procs": len(self.an.responder_pids()),
                             "line": next((l for l in self.an.output().splitlines()
                                           if "nginx keeping" in l), "?")}
        self.out["rep_id"] = self.rep_id
        self.warm_up()
        upstream_before = self.upstream.count()
        for s in SCENARIOS:
            if s[7] == 1:
                self.run_scenario(s)
        self.fill_keys()
        for s in SCENARIOS:
            if s[7] == 2:
                self.run_scenario(s)
        self.out["upstream_during_hits"] = self.upstream.count() - upstream_before
        self.rss()
        self.out["loadavg_after_hits"] = loadavg()

    # -- the cache scenarios --------------------------------------------------

    def run_cache(self):
        """cold, waves and waves-noexpire, one row after the other, each row
        on servers started for it and stopped after it.  A row that cannot
        run is noted and fails the bench, and the others still run."""
        cache = self.out["cache"] = {
            "latency_ms": list(LATENCY_MS), "stale_s": STALE_S, "runs": []}
        for sc in CACHE_SCENARIOS:
            key, group = sc[0], sc[0].split("-")[0]
            if group not in ONLY:
                continue
            for row in sc[6]:
                try:
                    cache["runs"].append(self.cache_row(sc, row))
                except (BenchError, AssertionError, OSError, subprocess.SubprocessError,
                        ValueError, KeyError) as e:
                    self.ok = False
                    self.out["notes"].append(f"FAILED: {key}, {row}: {type(e).__name__}: {e}")
                    log(f"{key} {row}: FAILED: {type(e).__name__}: {e}")

    def start_row(self, tag, row, env, ttl):
        """The row's own upstream (120-700 ms) and server, registered for
        stopping before they start; returns (upstream, server, service)."""
        upstream = self.started(Upstream(self.subdir(f"{tag}-upstream"), quiet=True))
        upstream.start()
        if row == "project":
            redis = self.started(harness.Redis(self.subdir(f"{tag}-redis"), unix=True))
            redis.start()
            svc = self.started(harness.Service(
                self.subdir(tag), RESPONDER=RESPONDER, REDIS_URL=redis.url,
                UPSTREAM_URL=upstream.url, **DEFAULTS_ENV, **env))
            svc.start()
            return upstream, svc, svc
        cls = {"nginx": NginxCache, "varnish": Varnish}[row]
        server = self.started(cls(upstream.port, ttl, STALE_S))
        server.start()
        return upstream, server, None

    def probe(self, port, upstream):
        """An id the upstream does not have: a 404 through the server, and
        one upstream request for /todos/201 (the path mapping works);
        nothing of the ids measured gets cached."""
        status, _, _, _ = http_get(port, f"/get_todos/{TODOS + 1}")
        if status != 404 or upstream.count(f"/todos/{TODOS + 1}") != 1:
            raise BenchError(f"/get_todos/{TODOS + 1}: {status}, upstream asked "
                             f"{upstream.count(f'/todos/{TODOS + 1}')} times (want 404, 1)")

    def warm_row(self, port, upstream):
        """Every id once, the upstream's latency off: 200 and the right todo
        each time, one upstream request each."""
        upstream.latency(0, 0)
        try:
            got, wall = fire(port, [f"/get_todos/{i}" for i in range(1, TODOS + 1)], 8)
        finally:
            upstream.latency(*LATENCY_MS)
        for path, status, _, _ in got:
            if status != 200:
                raise BenchError(f"warming: {path} answered {status}")
        for i in (1, TODOS // 2, TODOS):
            status, _, _, body = http_get(port, f"/get_todos/{i}")
            if status != 200 or json.loads(body).get("id") != i:
                raise BenchError(f"warming: /get_todos/{i} is not todo {i}: {status} {body[:80]!r}")
        per_id = upstream_per_id(upstream.stats())
        return {"wall_s": wall, "upstream_requests": sum(per_id.values()),
                "ids_fetched": len(per_id)}

    def cache_row(self, sc, row):
        key, _, secs, conns, ids, warm, _, env, ttl = sc
        tag = f"{key}-{row}"
        mark = len(self.stoppers)
        t0 = time.monotonic()
        result = {"scenario": key, "row": row, "seconds": secs, "connections": conns,
                  "ids": ids, "env": env if row == "project" else {},
                  "ttl_s": ttl if row != "project" else None}
        try:
            upstream, server, svc = self.start_row(tag, row, env, ttl)
            if svc is not None:
                result["responders"] = len(svc.responder_pids())
                result["service_line"] = next(
                    (l for l in svc.output().splitlines() if "starting on" in l), "?")
            if warm:
                result["warm"] = self.warm_row(server.port, upstream)
            else:
                self.probe(server.port, upstream)
            upstream.reset()        # counts only; the latency stays
            log(f"{tag}: {ROW_NAMES[row]} on port {server.port}, upstream on port "
                f"{upstream.port}; wrk -c{conns} {secs} s, random ids 1..{ids}")
            r = wrk(server.port, "/get_todos/1", conns, secs, ids, track=True)
            if svc is not None:
                result["memory"] = [m for m in (smaps_rollup(p) for p in svc.responder_pids())
                                    if m is not None]
            # The server first: what it still had queued when wrk stopped
            # (refreshes, cut-off requests) asks the upstream until it is
            # gone; the upstream counts a request when it reads it.
            t1 = time.monotonic()
            server.stop()
            result["stop_s"] = time.monotonic() - t1
            time.sleep(0.2)
            stats = upstream.stats()
        finally:
            for started in reversed(self.stoppers[mark:]):
                try:
                    started.stop()
                except Exception as e:  # keep stopping the others
                    log(f"stopping {type(started).__name__}: {e}")
            del self.stoppers[mark:]
        asked = {int(i): n for i, n in r["raw"].pop("asked", {}).items()}
        per_id = upstream_per_id(stats)
        check = fetch_check(per_id, asked)
        r.pop("stdout", None)
        result.update(r)
        result.update({
            "asked_requests": sum(asked.values()), "asked": asked,
            "unanswered_at_end": sum(asked.values()) - r["raw"]["requests"],
            "upstream_requests": stats["total"], "upstream_per_id": per_id,
            "upstream_connections": stats.get("connections"),
            "fetch_check": check,
            "took_s": time.monotonic() - t0})
        result["upstream_per_key"] = per_key(result)
        log(f"{tag}: {r['rps']:9.1f} 2xx/s  p50 {fmt_ms(r['p50_ms'])} ms  "
            f"p99 {fmt_ms(r['p99_ms'])} ms  max {fmt_ms(r['max_ms'])} ms  non-2xx "
            f"{r['non2xx']}  socket errors {r['socket_errors']}  upstream "
            f"{stats['total']} for {len(asked)} ids asked ({time.monotonic() - t0:.1f} s)")
        if r["ok"] == 0:
            self.ok = False
            self.out["notes"].append(f"FAILED: {key}, {row}: no 2xx answer in {secs} s")
        if key == "cold" and row == "project" and not check["ok"]:
            self.ok = False
            self.out["notes"].append(
                f"FAILED: cold, project: the upstream was asked more than once for ids "
                f"{check['fetched_more_than_once'][:20]}"
                + (f", or for ids never asked for {check['fetched_not_asked'][:20]}"
                   if check["fetched_not_asked"] else ""))
        return result

    def close(self):
        try:
            self.rconn.close()
        except AttributeError:
            pass
        self.stop_all()
        shutil.rmtree(self.tmp, ignore_errors=True)


# -- the results --------------------------------------------------------------


def summarize(out):
    """Medians per (scenario, server) over the repetitions."""
    rows = {}
    for key, *_ in SCENARIOS:
        for server in SERVERS:
            runs = [r for r in out["runs"] if r["scenario"] == key and r["server"] == server]
            if runs:
                rows[key, server] = {
                    "rps": statistics.median(r["rps"] for r in runs),
                    "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                    "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                    "errors": sum(r["non2xx"] + r["socket_errors"] for r in runs),
                    "n": len(runs),
                    "spread": ((max(r["rps"] for r in runs) - min(r["rps"] for r in runs))
                               / statistics.median(r["rps"] for r in runs)),
                }
    return rows


def fmt_ms(ms):
    """wrk times to the microsecond: below 1 ms, all three decimals."""
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:,.0f}"


def markdown(out, rows):
    m = out["machine"]
    mode = "BENCH_QUICK=1" if out["quick"] else "full"
    only = out.get("only", list(GROUPS))
    versions = [m["lighttpd"], m["redis"], m["wrk"]]
    if "cache" in out:
        versions += [m.get("nginx", "?"), m.get("varnish", "?")]
    lines = [
        "# todos-fcgi benchmark",
        "",
        f"- machine: {m['nproc']} cores, {m['cpu']}, Linux {m['kernel']}",
        "- " + "; ".join(versions),
        f"- run: {m['date']}, {mode}, scenario groups {','.join(only)} (BENCH_ONLY); "
        "wrk and the servers share the cores",
        f"- load average before/after: {out.get('loadavg_before', '?')} / "
        f"{out.get('loadavg_after', '?')} (anything else running shares the cores too)",
    ]
    if "hit" in only:
        lines += markdown_hits(out, rows)
    if "cache" in out:
        lines += markdown_cache(out)
    if out["notes"] or "elapsed_s" in out:
        lines.append("")
    for note in out["notes"]:
        lines.append(f"- {note}")
    if "elapsed_s" in out:
        lines.append(f"- Took {out['elapsed_s']:.0f} s.")
    return "\n".join(lines) + "\n"


def markdown_hits(out, rows):
    """The HIT scenarios' table and notes."""
    lines = [
        "",
        "## HIT next to the ceiling",
        "",
        f"- wrk -t{out['wrk_threads']} (-t1 at 1 connection), "
        f"{out['seconds']} s per run, median of {out['reps']} "
        f"(servers alternating, order rotated each repetition); "
        f"{out.get('procs', '?')} responders each for A and B (FCGI_PROCS default: the cores)",
        f"- nginx front: nginx/run's defaults, {out.get('nginx', {}).get('procs', '?')} "
        "daemon workers each for A-nginx and B-nginx; nginx/run said: "
        f"\"{out.get('nginx', {}).get('line', '?')}\"",
        "- A: the project (lighttpd/run, Redis on a unix socket, CACHE_TTL="
        f"{CACHE_TTL}, default LOG_LEVEL=info: an access line per request); "
        "B: bench/const_fcgi, same lighttpd/run and config, "
        "answering the captured HIT (same status, headers, body); C: lighttpd, "
        "mod_staticfile only, the same body as a file; A0 (random-id rows only): A with "
        "its in-process cache off, every HIT a Redis GET",
        "",
        "| scenario | server | req/s (2xx) | p50 ms | p99 ms | vs ceiling | p50 vs ceiling "
        "| spread | errors |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for key, title, *_ in SCENARIOS:
        title = title.format(keys=f"{out['keys']:,}")
        for server in SERVERS:
            r = rows.get((key, server))
            if r is None:
                continue
            c = rows.get((key, CEILING.get(server, "B")), {})
            ceiling = c.get("rps")
            ratio = f"{r['rps'] / ceiling:.2f}" if ceiling else "-"
            p50 = f"{r['p50_ms'] / c['p50_ms']:.2f}" if c.get("p50_ms") else "-"
            spread = f"{r['spread']:.0%}" if r["n"] > 1 else "-"
            lines.append(f"| {title} | {SERVER_NAMES[server]} | {r['rps']:,.0f} | "
                         f"{fmt_ms(r['p50_ms'])} | {fmt_ms(r['p99_ms'])} | {ratio} | "
                         f"{p50} | {spread} | {r['errors']} |")
    cold = out.get("cold")
    if cold:
        title = (f"cold start: {cold['distinct_ids']} new ids x{COLD_COPIES}, "
                 f"{out['cold_clients']} clients, upstream "
                 f"{LATENCY_MS[0]}-{LATENCY_MS[1]} ms")
        d = cold["direct"]
        lines.append(f"| {title} | A project | {cold['rps']:,.1f} | {fmt_ms(cold['p50_ms'])} | "
                     f"{fmt_ms(cold['p99_ms'])} | - | - | {cold['requests'] - cold['ok']} |")
        lines.append(f"| {title} | the upstream alone | {d['rps']:,.1f} | "
                     f"{fmt_ms(d['p50_ms'])} | {fmt_ms(d['p99_ms'])} | - | - | 0 |")
    lines += ["", "req/s, p50, p99: medians over the repetitions; vs ceiling: req/s over "
              "B's (A-nginx: over B-nginx's; B-nginx: over B's, the lighttpd ceiling); "
              "p50 vs ceiling: p50 over the same ceiling's p50; "
              "spread: (highest - lowest req/s) / median, a large one means the machine, "
              "not the server, moved the number; errors: non-2xx answers plus socket "
              "errors, summed over the repetitions.", ""]
    if cold:
        verdict = "OK" if cold["upstream_requests"] == cold["distinct_ids"] else "MISMATCH"
        lines.append(f"- Cold start: {cold['requests']} requests in {cold['wall_s']:.1f} s; "
                     f"upstream requests {cold['upstream_requests']} for "
                     f"{cold['distinct_ids']} distinct ids ({verdict}); X-Cache "
                     + ", ".join(f"{k} {v}" for k, v in sorted(cold["x_cache"].items())))
    if "upstream_during_hits" in out:
        lines.append(f"- Upstream requests during the HIT runs: {out['upstream_during_hits']}"
                     + (" (every measured answer came from the cache)"
                        if out["upstream_during_hits"] == 0 else " (NOT all hits)"))
    mem = out.get("redis_memory")
    if mem:
        lines.append(f"- Redis memory per cached todo: {mem['per_todo']:,.0f} B "
                     f"(used_memory {mem['used_memory_before']:,} -> "
                     f"{mem['used_memory_after']:,} for 200 todos; "
                     f"{mem['per_todo_without_clients']:,.0f} B without the clients' "
                     f"buffers, MEMORY STATS clients.normal); MEMORY USAGE "
                     f"{mem['memory_usage_mean']:.0f} B a key; stored value "
                     f"{mem['stored_value_mean']:.0f} B (head + body) for a body of "
                     f"{mem['body_mean']:.0f} B on average; keys in Redis's client-tracking "
                     f"table (the in-process caches' invalidation): "
                     f"{mem['tracking_total_keys']}")
    syn = out.get("synthetic")
    if syn:
        lines.append(f"- Synthetic keys: {syn['keys']:,} x {syn['value_bytes']} B values "
                     f"(todos:v1:/synthetic/N) filled in {syn['fill_s']:.1f} s, "
                     f"{syn['per_key']:,.0f} B of used_memory each, "
                     f"{syn['dbsize']:,} keys, used_memory {syn['used_memory_after']:,}")
    if "captured" in out:
        cap = out["captured"]
        lines.append(f"- Bodies: /get_todos/1 {cap['one']['body_bytes']} B, /get_todos "
                     f"{cap['list']['body_bytes']:,} B; random ids: B and C serve "
                     f"{cap['rand']['path']} ({cap['rand']['body_bytes']} B, the median size)")
    rss = out.get("rss_kib")
    if rss:
        parts = []
        for label, r in rss.items():
            resp = "/".join(str(x) for x in r["responders"])
            front = "nginx" if "nginx" in r else "lighttpd"
            parts.append(f"{label}: {front} {r[front]}"
                         + (f", responders {resp}" if resp else ""))
        lines.append("- RSS after the run (KiB): " + "; ".join(parts))
    for key, title, *_ in SCENARIOS:
        a, bn, b = (rows.get((key, s), {}).get("rps") for s in ("A-nginx", "B-nginx", "B"))
        if a and bn and b:
            lines.append(f"- {title}: A-nginx / B-nginx {a / bn:.2f} (target >= 0.90); "
                         f"B-nginx / B (the lighttpd ceiling) {bn / b:.2f}")
    return lines


def per_key(run):
    """Upstream requests per key: cold, over the ids fetched (1 is one fetch
    per fill; ids asked for only by cut-off requests were never filled);
    waves, over the ids read (every one of them filled just before)."""
    c = run["fetch_check"]
    keys = c["ids_fetched"] if run["scenario"] == "cold" else c["ids_asked"]
    return run["upstream_requests"] / max(1, keys)


def cache_run(out, key, row):
    for r in out.get("cache", {}).get("runs", []):
        if r["scenario"] == key and r["row"] == row:
            return r
    return None


def cache_targets(out):
    """[(what, figure, met: True, False or None when not measured)]: the
    targets of the cache scenarios, printed next to the figures only."""
    targets = []

    def refs(key, fmt):
        got = [f"{row} {fmt(r)}" for row in ("nginx", "varnish")
               if (r := cache_run(out, key, row)) is not None]
        return f" ({', '.join(got)})" if got else ""

    def errors(key):
        r = cache_run(out, key, "project")
        if r is None:
            return (f"{key}, project: 0 non-2xx answers and 0 socket errors", "not run", None)
        return (f"{key}, project: 0 non-2xx answers and 0 socket errors",
                f"{r['non2xx']:,} non-2xx, {r['socket_errors']:,} socket errors"
                + refs(key, lambda x: f"{x['non2xx']:,} / {x['socket_errors']:,}"),
                r["non2xx"] == 0 and r["socket_errors"] == 0)

    def p99(key, limit):
        r = cache_run(out, key, "project")
        what = f"{key}, project: p99 <= {limit:,} ms"
        if r is None:
            return (what, "not run", None)
        return (what, f"{fmt_ms(r['p99_ms'])} ms" + refs(key, lambda x: fmt_ms(x["p99_ms"])),
                r["p99_ms"] <= limit)

    if any(r["scenario"] == "cold" for r in out.get("cache", {}).get("runs", [])):
        targets.append(errors("cold"))
        targets.append(p99("cold", TARGET_COLD_P99_MS))
        r = cache_run(out, "cold", "project")
        what = "cold, project: exactly one upstream fetch per key fetched, none for ids not asked"
        if r is None:
            targets.append((what, "not run", None))
        else:
            c = r["fetch_check"]
            targets.append((what, f"{c['upstream_requests']} upstream requests for "
                            f"{c['ids_fetched']} ids fetched of {c['ids_asked']} asked; "
                            f"more than once: {c['fetched_more_than_once'] or 'none'}", c["ok"]))
    if any(r["scenario"].startswith("waves") for r in out.get("cache", {}).get("runs", [])):
        targets.append(errors("waves"))
        w, n = cache_run(out, "waves", "project"), cache_run(out, "waves-noexpire", "project")
        what = (f"waves, project: 2xx/s >= {TARGET_WAVES_VS_NOEXPIRE} x its waves-noexpire "
                "rate")
        if w is None or n is None or n["rps"] == 0:
            targets.append((what, "not run", None))
        else:
            targets.append((what, f"{w['rps']:,.0f} / {n['rps']:,.0f} = "
                            f"{w['rps'] / n['rps']:.2f}",
                            w["rps"] >= TARGET_WAVES_VS_NOEXPIRE * n["rps"]))
        targets.append(p99("waves", TARGET_WAVES_P99_MS))
        what = (f"memory: Private (clean + dirty) <= {TARGET_PRIVATE_KIB // 1024} MiB per "
                "responder, after the waves run")
        mem = (w or {}).get("memory") or []
        if not mem:
            targets.append((what, "not measured", None))
        else:
            worst = max(x["private_kib"] for x in mem)
            targets.append((what, f"largest {worst / 1024:.1f} MiB of {len(mem)} responders",
                            worst <= TARGET_PRIVATE_KIB))
    return targets


def markdown_cache(out):
    """The cold and waves scenarios: one table, the fetch checks, the
    targets, the project's responder memory."""
    cache = out["cache"]
    runs = cache["runs"]
    m = out["machine"]
    lo, hi = cache["latency_ms"]
    project = next((r for r in runs if r["row"] == "project"), {})
    lines = [
        "",
        "## Cold and waves: the project next to nginx and Varnish caches",
        "",
        f"- every server with its own fake upstream ({lo}-{hi} ms an answer, uniform "
        "random), started afresh for each scenario and stopped after it; wrk "
        f"-t{WRK_THREADS}, random ids (bench/wrk.lua, BENCH_TRACK=1), --timeout just "
        "past the run so that every answer that comes back counts",
        "- project: lighttpd/run in its default configuration (no FCGI_PROCS or thread "
        "setting, LOG_LEVEL info: one access line per request), its own redis-server on "
        f"a unix socket; {project.get('responders', '?')} responders; lighttpd/run said: "
        f"\"{project.get('service_line', '?')}\"",
        f"- nginx proxy_cache ({m.get('nginx', '?')}): worker_processes auto, keys zone "
        "in a temporary directory, proxy_cache_valid 200 for the scenario's freshness "
        "(the upstream's Cache-Control and Expires ignored), proxy_cache_use_stale "
        "updating error timeout, proxy_cache_background_update on, proxy_cache_lock on, "
        f"inactive={cache['stale_s']}s, kept-alive upstream connections",
        f"- Varnish ({m.get('varnish', '?')}): varnishd -F -s malloc,64m, beresp.ttl = "
        f"the scenario's freshness, beresp.grace = {cache['stale_s']} s (run as root: "
        "its unix jail, users varnish and vcache)",
        "- freshness: cold 60 s for every server (the project's default CACHE_TTL: "
        "nothing expires during the run, every upstream request is a fill); waves 3 s, "
        f"usable stale {cache['stale_s']} s (project: CACHE_TTL=3 "
        f"STALE_WHILE_REVALIDATE={cache['stale_s']} STALE_TTL={cache['stale_s']}), all "
        "200 ids fetched once just before the load; waves-noexpire: the project with "
        "CACHE_TTL=3600",
        "",
        "| scenario | server | 2xx/s | non-2xx | socket errors | p50 ms | p99 ms | max ms "
        "| upstream requests | ids asked / fetched | upstream req. per key |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for key, template, *_ in CACHE_SCENARIOS:
        for row in ROWS:
            r = cache_run(out, key, row)
            if r is None:
                continue
            title = template.format(ids=r["ids"], conns=r["connections"], secs=r["seconds"])
            lines.append(
                f"| {title} | {ROW_NAMES[row]} | {r['rps']:,.1f} | {r['non2xx']:,} | "
                f"{r['socket_errors']:,} | {fmt_ms(r['p50_ms'])} | {fmt_ms(r['p99_ms'])} | "
                f"{fmt_ms(r['max_ms'])} | {r['upstream_requests']:,} | "
                f"{r['fetch_check']['ids_asked']} / {r['fetch_check']['ids_fetched']} | "
                f"{per_key(r):.2f} |")
    lines += [
        "",
        "2xx/s: answers below 400 a second (wrk's requests less its \"Non-2xx or 3xx\" "
        "count, which counts statuses above 399); socket errors: connect + read + write + "
        "timeout; p50/p99/max: wrk's latency distribution of the answers that came back "
        "within the run; upstream requests: the server's own upstream, from the start of "
        "the load until the server had stopped after it (a stopped project finishes "
        "the request in hand: what it still had queued is not asked for); ids asked / "
        "fetched: the distinct ids wrk sent requests for / the upstream was asked for; "
        "per key: cold, over the ids fetched (1.00: one fetch per fill); waves, over "
        "the ids asked for (all of them filled just before).",
        "",
    ]
    for r in runs:
        c = r["fetch_check"]
        per_id = sorted(r["upstream_per_id"].get(str(i), r["upstream_per_id"].get(i, 0))
                        for i in r["asked"])
        line = (f"- {r['scenario']}, {r['row']}: {r['asked_requests']:,} requests sent for "
                f"{c['ids_asked']} ids ({r['unanswered_at_end']:,} unanswered when the run "
                f"ended); upstream: {c['upstream_requests']:,} requests over "
                f"{r.get('upstream_connections', '?')} connections")
        if r["scenario"] == "cold":
            line += (f", for {c['ids_fetched']} ids, at most {per_id[-1] if per_id else 0} "
                     "for one id"
                     + (f"; {c['asked_not_fetched']} ids asked only by requests that were "
                        "cut off or still queued" if c["asked_not_fetched"] else "")
                     + (f"; fetched more than once: ids {c['fetched_more_than_once']}"
                        if c["fetched_more_than_once"] else "")
                     + (f"; fetched but never asked for: ids {c['fetched_not_asked']}"
                        if c["fetched_not_asked"] else ""))
        elif per_id:
            line += (f"; per id min / median / max {per_id[0]} / "
                     f"{statistics.median(per_id):g} / {per_id[-1]}")
            if r["scenario"] == "waves":
                line += (f" (fresh for 3 s: a key read throughout goes stale every "
                         f"3 s, {int(r['seconds'] // 3)} times at most in {r['seconds']} s)")
        lines.append(line)
    lines += ["", "Targets (printed next to the figures, never enforced):", ""]
    for what, figure, met in cache_targets(out):
        verdict = {True: "met", False: "MISSED", None: "-"}[met]
        lines.append(f"- {what}: {figure}: **{verdict}**")
    mem = [(r, x) for r in runs for x in r.get("memory") or []]
    if mem:
        lines += ["", "The project's responders after each run (/proc/PID/smaps_rollup; "
                  "Private = Private_Clean + Private_Dirty, what the process alone holds):",
                  "", "| after | responder PID | threads | RSS KiB | PSS KiB | Private KiB "
                  "| of which dirty KiB |", "|---|--:|--:|--:|--:|--:|--:|"]
        for r, x in mem:
            lines.append(f"| {r['scenario']} | {x['pid']} | {x.get('threads') or '?'} | "
                         f"{x['rss_kib']:,} | {x['pss_kib']:,} | {x['private_kib']:,} | "
                         f"{x['private_dirty_kib']:,} |")
    return lines


def chart(out, rows):
    data = os.path.join(RESULTS, "latest.dat")
    script = os.path.join(RESULTS, "latest.gp")
    with open(data, "w") as f:
        f.write("# scenario " + " ".join(SERVERS) + ": median 2xx req/s (- : not run)\n")
        for key, _, label, *_ in SCENARIOS:
            vals = [rows.get((key, s), {}).get("rps") for s in SERVERS]
            f.write(f'"{label}" ' + " ".join("-" if v is None else f"{v:.0f}" for v in vals)
                    + "\n")
    m = out["machine"]
    with open(script, "w") as f:
        f.write(f"""set terminal pngcairo size 1200,680 font "sans,10" noenhanced
set output "{os.path.join(RESULTS, 'latest.png')}"
set title "todos-fcgi HIT vs. ceiling: median 2xx req/s of {out['reps']} x {out['seconds']} s, {m['nproc']} cores (wrk on the same cores)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside bottom center horizontal
set yrange [0:*]
set ylabel "requests/s"
set format y "%.0f"
set datafile missing "-"
plot "{data}" using 2:xtic(1) title "{SERVER_NAMES['A']}", \\
     "" using 3 title "{SERVER_NAMES['A0']}", \\
     "" using 4 title "{SERVER_NAMES['B']} (ceiling)", \\
     "" using 5 title "{SERVER_NAMES['C']}", \\
     "" using 6 title "{SERVER_NAMES['A-nginx']}", \\
     "" using 7 title "{SERVER_NAMES['B-nginx']} (ceiling)"
""")
    r = subprocess.run(["gnuplot", script], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise BenchError(f"gnuplot failed: {r.stderr}")


def write_results(out):
    os.makedirs(RESULTS, exist_ok=True)
    rows = summarize(out)
    md = markdown(out, rows)
    with open(os.path.join(RESULTS, "latest.md"), "w") as f:
        f.write(md)
    raw = dict(out, summary={f"{k}/{s}": v for (k, s), v in rows.items()})
    if "cache" in out:
        raw["cache_targets"] = [{"target": what, "figure": figure, "met": met}
                                for what, figure, met in cache_targets(out)]
    with open(os.path.join(RESULTS, "latest.json"), "w") as f:
        json.dump(raw, f, indent=1, default=str)
    print(md, flush=True)
    if rows:
        chart(out, rows)
    else:
        # No HIT scenario ran (BENCH_ONLY): no chart, and none left from an
        # earlier run next to a table that does not show its numbers.
        for name in ("latest.png", "latest.dat", "latest.gp"):
            try:
                os.remove(os.path.join(RESULTS, name))
            except FileNotFoundError:
                pass


def main():
    if sys.argv[1:] == ["--report"]:
        # Redraws latest.md and latest.png from latest.json, measuring nothing.
        with open(os.path.join(RESULTS, "latest.json")) as f:
            out = json.load(f)
        out.pop("summary", None)
        out.pop("cache_targets", None)
        write_results(out)
        return 0
    if sys.argv[1:]:
        print("usage: bench.py [--report]", file=sys.stderr)
        return 64

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    t0 = time.monotonic()
    bench = Bench()
    failed = None
    try:
        bench.run()
    except (BenchError, AssertionError, OSError, subprocess.SubprocessError) as e:
        failed = f"{type(e).__name__}: {e}"
    finally:
        bench.close()
    if failed:
        bench.out["notes"].append(f"FAILED: {failed}")
    try:
        write_results(bench.out)
    except BenchError as e:
        failed = failed or str(e)
        log(str(e))
    log(f"done in {time.monotonic() - t0:.0f} s; results in {RESULTS}")
    if failed:
        log(f"FAILED: {failed}")
        return 1
    return 0 if bench.ok else 1


if __name__ == "__main__":
    sys.exit(main())
