"""Every curl example of README.md, run against the service it names, so
that the README cannot drift from what the service answers.

The README writes its examples as shell sessions in ```sh blocks:

    $ PURGE_TOKEN=... make demo          # the server (optional)
    $ curl -si localhost:5000/get_todos/1
    HTTP/1.1 200 OK                      # what curl prints
    ...                                  # some lines left out
    X-Cache: MISS

    {"userId":1,...}

Each block is one session against a fresh service: `lighttpd/run --demo`
(what `make demo` runs) unless the block has its own `$ [VAR=value ...]
make demo` or `make run` line, whose variables the service gets.  `make
run` here means a machine without internet access: UPSTREAM_URL is a
closed port on 127.0.0.1.  Each `$ curl` line runs through bash as written,
but for localhost:5000, which becomes the service's free port, and its
output is compared with the lines under it:

- a status line (`HTTP/1.1 405 Method Not Allowed`) must be curl's first
  line;
- each header line shown must be among the answer's headers, with that
  value; `...` stands for headers left out: an answer shown without any
  `...` must have no header beyond those shown but the front's own `Date`
  and `Server`;
- the body shown (after the empty line, or the whole output when curl
  prints no head) must be the body, byte for byte;
- `Age: N` and `ttl=N` change with time: any number of the same sign
  matches, but where both are shown they must add up to max-age (the one
  shown, or else the answer's).

A curl line in a README code block that is not such a `$ curl` line fails
the test: an example the test cannot run is not allowed in.
"""

import os
import re
import shlex
import subprocess

import pytest

from harness import (RESPONDER, RUN, TOP, free_port, kill_leftovers, started_in, stop_process,
                     tcp_accepts, wait_for)

README = os.path.join(TOP, "README.md")
SERVER = re.compile(r"^\$ ((?:[A-Z_][A-Z0-9_]*=\S+ )*)make (demo|run)\b")
OFFLINE_UPSTREAM = "http://127.0.0.1:1"


def readme_blocks(text):
    """[(line number, [lines])] of every fenced code block."""
    blocks, inside, start, lines = [], False, 0, []
    for n, line in enumerate(text.split("\n"), 1):
        if line.startswith("```"):
            if inside:
                blocks.append((start, lines))
            inside, start, lines = not inside, n + 1, []
        elif inside:
            lines.append(line)
    assert not inside, "README.md: a code block is not closed"
    return blocks


def sessions(text):
    """[(line, server (command, env), [(line, command, [expected lines])])]"""
    found = []
    for start, lines in readme_blocks(text):
        server, steps = ("demo", {}), []
        for i, line in enumerate(lines):
            where = f"README.md:{start + i}"
            m = SERVER.match(line)
            if m:
                env = dict(a.split("=", 1) for a in shlex.split(m.group(1)))
                server = (m.group(2), env)
            elif line.startswith("$ curl "):
                steps.append((start + i, line[2:], []))
            elif line.startswith("$ "):
                if steps:
                    raise AssertionError(f"{where}: a $ line the test cannot run: {line}")
            elif steps:
                steps[-1][2].append(line)
            assert not re.search(r"(^|[\s|;(])curl\s", line) or line.startswith("$ curl "), \
                f"{where}: a curl example must be a `$ curl` line with its output under it"
        if steps:
            for _, _, expected in steps:
                while expected and expected[-1] == "":
                    expected.pop()
            found.append((start, server, steps))
    return found


def test_readme_has_examples():
    found = sessions(open(README).read())
    assert len(found) >= 4, found
    assert sum(len(s[2]) for s in found) >= 10


class Demo:
    """lighttpd/run [--demo] on a free port in its own RUNDIR."""

    def __init__(self, tmpdir, mode, env):
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.update({"PORT": str(self.port), "RESPONDER": RESPONDER,
                         "RUNDIR": os.path.join(str(tmpdir), "run")})
        for k in ("REDIS_URL", "REDIS_SENTINELS", "UPSTREAM_URL", "PURGE_TOKEN"):
            self.env.pop(k, None)
        if mode == "run":
            self.env["UPSTREAM_URL"] = OFFLINE_UPSTREAM
        self.env.update(env)
        self.args = [RUN] + (["--demo"] if mode == "demo" else [])
        self.log = os.path.join(str(tmpdir), "run.log")

    def __enter__(self):
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=self.logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)

        def up():
            assert self.proc.poll() is None, open(self.log).read()
            return tcp_accepts(self.port)
        wait_for(up, 20, "the demo to listen")
        wait_for(lambda: "starting on" in open(self.log).read(), 20, "the demo to start")
        self.tree = started_in(self.env["RUNDIR"])
        return self

    def __exit__(self, *exc):
        stop_process(self.proc)
        self.logf.close()
        # Nothing it started outlives the test, as for the harness's Service.
        kill_leftovers(self.tree)


def split_answer(lines):
    """curl's output or the README's lines -> (status line, headers, body);
    headers are [(name, value)] or '...', body None when not shown."""
    if not lines or not lines[0].startswith("HTTP/"):
        return None, [], "\n".join(lines)
    status, headers, i = lines[0], [], 1
    while i < len(lines) and lines[i] != "":
        h = lines[i]
        if h == "...":
            headers.append(h)
        else:
            name, _, value = h.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        i += 1
    body = "\n".join(lines[i + 1:]) if i < len(lines) else None
    return status, headers, body


def volatile(name, value):
    """A header value with Age and ttl numbers made patterns."""
    pattern = re.escape(value)
    if name == "age":
        return r"\d+"
    if name == "cache-status":
        pattern = re.sub(r"ttl=(-?)\d+", lambda m: r"ttl=" + m.group(1) + r"\d+", pattern)
    return pattern


def check_consistent(where, headers, got):
    """Age + ttl shown = the max-age shown, or else the answer's."""
    shown = dict(h for h in headers if h != "...")
    age, cs = shown.get("age"), shown.get("cache-status", "")
    cc = shown.get("cache-control", got.get("cache-control", ""))
    ttl, max_age = re.search(r"ttl=(-?\d+)", cs), re.search(r"max-age=(\d+)", cc)
    if age is not None and ttl and max_age:
        assert int(age) + int(ttl.group(1)) == int(max_age.group(1)), \
            f"{where}: Age {age} + ttl {ttl.group(1)} is not max-age {max_age.group(1)}"


def compare(where, expected, actual_text):
    actual = actual_text.replace("\r\n", "\n").split("\n")
    if actual and actual[-1] == "":
        actual.pop()
    e_status, e_headers, e_body = split_answer(expected)
    a_status, a_headers, a_body = split_answer(actual)
    if e_status is None:
        assert a_status is None, f"{where}: the README shows no head, curl printed {actual_text!r}"
        assert a_body == e_body, f"{where}: README shows {e_body!r}, curl printed {a_body!r}"
        return
    assert a_status == e_status, f"{where}: README shows {e_status!r}, curl printed {a_status!r}"
    got = dict(a_headers)
    check_consistent(where, e_headers, got)
    for h in e_headers:
        if h == "...":
            continue
        name, value = h
        assert name in got, f"{where}: no {name} header in\n{actual_text}"
        assert re.fullmatch(volatile(name, value), got[name]), \
            f"{where}: README shows {name}: {value}, curl printed {got[name]}"
    shown = [h[0] for h in e_headers if h != "..."]
    if "..." not in e_headers:
        # No `...`: the README shows every header but the front's own.
        extra = [n for n in got if n not in shown and n not in ("date", "server")]
        assert not extra, f"{where}: headers the README leaves out without `...`: {extra}"
    if e_body is not None:
        assert a_body == e_body, f"{where}: README shows body {e_body!r}, curl printed {a_body!r}"


def run_curl(command, port):
    command = command.replace("localhost:5000", f"127.0.0.1:{port}")
    out = subprocess.run(["bash", "-c", command], capture_output=True, timeout=30, cwd=TOP)
    return out.stdout.decode()


SESSIONS = sessions(open(README).read())


@pytest.mark.parametrize("session", SESSIONS, ids=[f"README.md:{s[0]}" for s in SESSIONS])
def test_readme_example(session, tmp_path):
    start, (mode, env), steps = session
    with Demo(tmp_path, mode, env) as demo:
        for line, command, expected in steps:
            compare(f"README.md:{line}: {command}", expected, run_curl(command, demo.port))
