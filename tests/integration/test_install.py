"""make install / uninstall / help, and the installed examples run for real.

- `make install DESTDIR=...` puts exactly the files todos-fcgi(8) lists
  under FILES, Installed (with their modes), and `make uninstall` removes
  every one of them; `make help` lists real targets, one line each.
- The systemd units pass `systemd-analyze verify` (no running systemd
  needed), and the socket path they agree on is the one the nginx and
  Apache examples connect to.
- Each web server runs the installed example itself, copied with at most
  paths, ports and setting values substituted: lighttpd with the
  conf-available snippet (enabled by lighttpd-enable-mod, `lighttpd -tt`)
  serves MISS then HIT; Apache with mod_fcgid spawning the installed binary
  (server config, and a shared host's .htaccess + wrapper script) serves
  MISS then HIT and purges with the bearer token (401 without), and leaves
  no responder behind when stopped; nginx and Apache's mod_proxy_fcgi
  reach the responder started as todos-fcgi.service would start it (its
  ExecStart, the example settings file, an unprivileged user, the
  listening socket on fd 0 as todos-fcgi.socket describes it), which
  exits 0 on SIGTERM.
- The same responder under strace stays within the unit's sandbox
  (system calls, socket families, files, devices, W^X mappings).

For the servers the tree is installed with PREFIX=<temp dir> (no DESTDIR),
so the paths inside the examples are the real ones; the temp dir is 0755
so that the web servers' www-data workers can reach the binary.
"""

import grp
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile

import pytest

from harness import (RESPONDER, TOP, children, free_port, http_request, pid_alive,
                     stop_process, tcp_accepts, wait_for)

TOKEN = "install-test-token-0123456789"
MAKE_TIMEOUT = 600


def make_args():
    """Install the binary the suite tests (RESPONDER): its build dir as O,
    SAN=1 for the sanitizer build, so `install: all` has nothing to do."""
    out = os.path.relpath(os.path.dirname(RESPONDER), TOP)
    args = ["make", "-s", "-C", TOP, f"O={out}"]
    if out == os.path.join("build", "san"):
        args.append("SAN=1")
    return args


def make(*targets, **variables):
    cmd = make_args() + list(targets) + [f"{k}={v}" for k, v in variables.items()]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=MAKE_TIMEOUT)
    assert r.returncode == 0, f"{' '.join(cmd)}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def files_under(root):
    found = set()
    for d, _, names in os.walk(root):
        for n in names:
            found.add("/" + os.path.relpath(os.path.join(d, n), root))
    return found


def documented_files(manpage):
    """The paths under FILES, Installed of the (installed) man page."""
    with open(manpage) as f:
        text = f.read()
    m = re.search(r"^\.Ss Installed\n(.*?)^\.El$", text, re.M | re.S)
    assert m, "todos-fcgi.8 has no FILES, Installed list"
    return set(re.findall(r"^\.It Pa (\S+)$", m.group(1), re.M))


def test_install_puts_exactly_the_documented_files_and_uninstall_removes_them(tmp_path):
    dest = tmp_path / "dest"
    make("install", DESTDIR=dest)
    prefix = "/usr/local"
    man = f"{dest}{prefix}/share/man/man8/todos-fcgi.8"
    documented = documented_files(man)
    assert documented, "no file documented"
    assert all(p.startswith(prefix + "/") for p in documented), documented
    assert "@" not in "".join(documented), "a placeholder was not filled in"
    assert files_under(dest) == documented
    for p in documented:
        mode = stat.S_IMODE(os.stat(f"{dest}{p}").st_mode)
        executable = p.endswith(("/sbin/todos-fcgi", ".fcgi"))
        assert mode == (0o755 if executable else 0o644), (p, oct(mode))
        if not p.endswith("/sbin/todos-fcgi"):
            with open(f"{dest}{p}") as f:
                left = re.findall(r"@[A-Z]+@", f.read())
            assert not left, (p, left)
    r = subprocess.run([f"{dest}{prefix}/sbin/todos-fcgi", "--version"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("todos-fcgi "), r

    make("uninstall", DESTDIR=dest)
    assert files_under(dest) == set()
    assert not os.path.exists(f"{dest}{prefix}/share/todos-fcgi")


def variables_read():
    """Every variable the responder reads: config.c's lookups, getenv."""
    names = set()
    for name in os.listdir(os.path.join(TOP, "fcgi")):
        if name.endswith(".c"):
            names |= set(re.findall(r'(?:\blookup\(|get_long\(lookup, |getenv\()"([A-Z_]+)"',
                                    read(os.path.join(TOP, "fcgi", name))))
    assert len(names) > 20, names
    return names


def test_the_man_page_and_the_settings_file_cover_every_variable():
    man = read(os.path.join(TOP, "docs", "todos-fcgi.8"))
    env = re.search(r"^\.Sh ENVIRONMENT\n(.*?)^\.Sh ", man, re.M | re.S).group(1)
    documented = set(re.findall(r"^\.It Ev ([A-Z_]+)", env, re.M))
    assert variables_read() - documented == set()
    example = read(os.path.join(TOP, "systemd", "todos-fcgi.env"))
    listed = set(re.findall(r"^#?([A-Z_]+)=", example, re.M))
    left_out = {"PORT", "RUNDIR", "METRICS_FILE", "FCGI_WEB_SERVER_ADDRS", "GATEWAY_INTERFACE"}
    assert variables_read() - left_out - listed == set()
    for name in left_out - {"GATEWAY_INTERFACE"}:
        assert name in example, f"{name}: say why it is left out"


def test_help_lists_real_targets_one_line_each():
    # As a user types it: not as a sub-make of make test, whose -w would
    # add "Entering directory" lines.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    out = subprocess.run(["make", "-s", "--no-print-directory", "-C", TOP, "help"],
                         capture_output=True, text=True, check=True, env=env).stdout
    lines = out.splitlines()
    targets = []
    for line in lines:
        m = re.match(r"^make(?: ([a-z-]+))? +(\S.*)$", line)
        assert m, f"not 'make TARGET  what it does': {line!r}"
        targets.append(m.group(1) or "all")
    for t in ("install", "uninstall", "help", "test", "run", "demo"):
        assert t in targets, (t, out)
    db = subprocess.run(["make", "-C", TOP, "-pRrq", "-f", "Makefile", "__none__"],
                        capture_output=True, text=True).stdout
    defined = set(re.findall(r"^([a-zA-Z][\w-]*):", db, re.M))
    assert set(targets) <= defined, set(targets) - defined


@pytest.fixture(scope="module")
def installed():
    """make install PREFIX=<a 0755 temp dir>/usr/local; yields the prefix."""
    top = tempfile.mkdtemp(prefix="todos-fcgi-install.", dir="/tmp")
    os.chmod(top, 0o755)
    prefix = os.path.join(top, "usr", "local")
    make("install", PREFIX=prefix)
    yield prefix
    shutil.rmtree(top, ignore_errors=True)


def data(prefix, *parts):
    return os.path.join(prefix, "share", "todos-fcgi", *parts)


def unit(prefix, name):
    return os.path.join(prefix, "lib", "systemd", "system", name)


def read(path):
    with open(path) as f:
        return f.read()


def substituted(text, pairs):
    """text with each (old, new) replaced; every old must be there."""
    for old, new in pairs:
        assert old in text, f"{old!r} not in the installed example"
        text = text.replace(old, new)
    return text


def unit_values(path, key):
    return re.findall(rf"^{key}=(.*)$", read(path), re.M)


def test_systemd_units_pass_systemd_analyze_verify(installed):
    units = [unit(installed, "todos-fcgi.socket"), unit(installed, "todos-fcgi.service")]
    env = dict(os.environ, MANPATH=os.path.join(installed, "share", "man") + ":")
    r = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True,
                       text=True, env=env, cwd=os.path.dirname(units[0]), timeout=60)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    service = unit(installed, "todos-fcgi.service")
    assert unit_values(service, "ExecStart") == [os.path.join(installed, "sbin", "todos-fcgi")]
    assert unit_values(service, "StandardInput") == ["socket"]
    assert unit_values(service, "DynamicUser") == ["yes"]
    assert unit_values(service, "EnvironmentFile") == ["-/etc/todos-fcgi/todos-fcgi.env"]


def test_the_examples_agree_on_the_socket(installed):
    path = unit_values(unit(installed, "todos-fcgi.socket"), "ListenStream")
    assert path == ["/run/todos-fcgi.sock"]
    assert f"server unix:{path[0]};" in read(data(installed, "nginx", "todos-fcgi.conf"))
    assert f'"unix:{path[0]}|fcgi://localhost/' in read(
        data(installed, "apache", "todos-fcgi-proxy.conf"))


def exe_pids(binary):
    """PIDs running exactly this binary (our temp install: no one else's)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/exe") == binary:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def assert_none_left(binary):
    left = [p for p in exe_pids(binary) if pid_alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, f"responders left running: {left}"


def accepting(proc, port):
    """For wait_for: True once port accepts; raises if proc has exited."""
    if proc.poll() is not None:
        raise AssertionError(f"exited with status {proc.returncode}")
    return tcp_accepts(port)


def start(cmd, log, **kw):
    logf = open(log, "ab")
    return subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                            start_new_session=True, **kw), logf


def output(log):
    with open(log, "rb") as f:
        return f.read().decode(errors="replace")


def serves_miss_then_hit(port, path="/get_todos/3"):
    a = http_request(port, "GET", path)
    b = http_request(port, "GET", path)
    assert (a.status, a.headers.get("x-cache")) == (200, "MISS"), a
    assert (b.status, b.headers.get("x-cache")) == (200, "HIT"), b
    assert a.json() == b.json()
    return a, b


def rundir(installed, name):
    d = os.path.join(os.path.dirname(os.path.dirname(installed)), name)
    os.makedirs(d, mode=0o755, exist_ok=True)
    os.chmod(d, 0o755)
    return d


def test_lighttpd_with_the_installed_snippet(installed, redis, upstream):
    run = rundir(installed, "lighttpd")
    conf = os.path.join(run, "etc-lighttpd")
    os.makedirs(os.path.join(conf, "conf-available"))
    os.makedirs(os.path.join(conf, "conf-enabled"))
    shutil.copy("/etc/lighttpd/conf-available/10-fastcgi.conf",
                os.path.join(conf, "conf-available"))
    snippet = substituted(read(data(installed, "lighttpd", "15-todos-fcgi.conf")), [
        ("/run/lighttpd/", run + "/"),
        ('"redis://127.0.0.1:6379/0"', f'"{redis.url}"'),
        ('"https://jsonplaceholder.typicode.com"', f'"{upstream.url}"')])
    with open(os.path.join(conf, "conf-available", "15-todos-fcgi.conf"), "w") as f:
        f.write(snippet)
    # lighttpd-enable-mod only knows /etc/lighttpd: run it with our
    # directory mounted there, in a mount namespace of its own.
    r = subprocess.run(["unshare", "-m", "sh", "-c",
                        'mount --bind "$1" /etc/lighttpd && exec lighttpd-enable-mod todos-fcgi',
                        "sh", conf], capture_output=True, text=True, timeout=30)
    if r.returncode != 0 and "unshare failed" in r.stderr:
        # No mount namespaces here (an unprivileged container): link as
        # lighttpd-enable-mod does, its dependency line followed by hand.
        print(f"lighttpd-enable-mod not run: {r.stderr.strip()}")
        assert "# -*- depends: fastcgi -*-" in snippet.splitlines()
        for name in ("10-fastcgi.conf", "15-todos-fcgi.conf"):
            os.symlink(f"../conf-available/{name}", os.path.join(conf, "conf-enabled", name))
    else:
        assert r.returncode == 0 and "Enabling todos-fcgi: ok" in r.stdout, r
    assert sorted(os.listdir(os.path.join(conf, "conf-enabled"))) == \
        ["10-fastcgi.conf", "15-todos-fcgi.conf"], r.stdout
    port = free_port()
    main = os.path.join(conf, "lighttpd.conf")
    with open(main, "w") as f:
        f.write(f'server.port = {port}\nserver.bind = "127.0.0.1"\n'
                f'server.document-root = "{run}"\n'
                f'server.errorlog = "{run}/error.log"\n'
                'include "conf-enabled/*.conf"\n')
    r = subprocess.run(["lighttpd", "-tt", "-f", main], capture_output=True, text=True)
    assert r.returncode == 0, r
    log = os.path.join(run, "lighttpd.log")
    proc, logf = start(["lighttpd", "-D", "-f", main], log)
    try:
        wait_for(lambda: accepting(proc, port), 20, "lighttpd")
        serves_miss_then_hit(port)
        wait_for(lambda: len(children(proc.pid)) == 2, 10, "max-procs (2) responders")
    except AssertionError:
        print(output(log), read(f"{run}/error.log") if os.path.exists(f"{run}/error.log") else "")
        raise
    finally:
        stop_process(proc)
        logf.close()
        wait_for(lambda: not [p for p in exe_pids(os.path.join(installed, "sbin", "todos-fcgi"))
                              if pid_alive(p)], 15, "the responders to stop")


APACHE_BASE = """ServerRoot "/usr/lib/apache2"
LoadModule mpm_event_module  modules/mod_mpm_event.so
LoadModule authz_core_module modules/mod_authz_core.so
LoadModule env_module        modules/mod_env.so
{modules}
User  www-data
Group www-data
Listen 127.0.0.1:{port}
ServerName localhost
PidFile           {run}/apache.pid
DefaultRuntimeDir {run}
ErrorLog          {run}/error.log
LogLevel warn
DocumentRoot "{run}/htdocs"
<Directory />
	AllowOverride None
	Require all denied
</Directory>
{extra}
Include "{snippet}"
"""


def run_apache(run, modules, snippet_text, extra=""):
    """Apache on a free port with snippet_text Included; returns (proc,
    logf, port, log)."""
    os.makedirs(os.path.join(run, "htdocs"), exist_ok=True)
    snippet = os.path.join(run, "todos-fcgi.conf")
    with open(snippet, "w") as f:
        f.write(snippet_text)
    port = free_port()
    conf = os.path.join(run, "httpd.conf")
    with open(conf, "w") as f:
        f.write(APACHE_BASE.format(modules=modules, port=port, run=run, extra=extra,
                                   snippet=snippet))
    r = subprocess.run(["apache2", "-t", "-f", conf], capture_output=True, text=True)
    assert r.returncode == 0, r
    log = os.path.join(run, "apache.log")
    proc, logf = start(["apache2", "-f", conf, "-DFOREGROUND"], log)
    try:
        wait_for(lambda: accepting(proc, port), 20, "apache")
    except AssertionError:
        stop_process(proc)
        logf.close()
        print(output(log), read(f"{run}/error.log") if os.path.exists(f"{run}/error.log") else "")
        raise
    return proc, logf, port, log


def purges_with_the_token_only(port):
    http_request(port, "GET", "/get_todos/4")
    refused = http_request(port, "DELETE", "/get_todos/4")
    assert refused.status == 401, refused
    assert refused.headers["content-type"] == "application/json", refused
    wrong = http_request(port, "DELETE", "/get_todos/4",
                         headers={"Authorization": "Bearer wrong-token-0123456789"})
    assert wrong.status == 401, wrong
    r = http_request(port, "DELETE", "/get_todos/4",
                     headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status == 200 and r.json() == {"purged": True}, r
    assert http_request(port, "GET", "/get_todos/4").headers["x-cache"] == "MISS"


def test_apache_mod_fcgid_with_the_installed_example(installed, redis, upstream):
    run = rundir(installed, "apache-fcgid")
    text = substituted(read(data(installed, "apache", "todos-fcgi-fcgid.conf")), [
        ("REDIS_URL redis://127.0.0.1:6379/0", f"REDIS_URL {redis.url}"),
        ("UPSTREAM_URL https://jsonplaceholder.typicode.com", f"UPSTREAM_URL {upstream.url}"),
        ("#FcgidInitialEnv PURGE_TOKEN at-least-16-printable-characters",
         f"FcgidInitialEnv PURGE_TOKEN {TOKEN}")])
    binary = os.path.join(installed, "sbin", "todos-fcgi")
    assert f"FcgidWrapper {binary} virtual" in text
    proc, logf, port, log = run_apache(
        run, "LoadModule fcgid_module modules/mod_fcgid.so", text,
        extra=f"FcgidIPCDir {run}/fcgid\nFcgidProcessTableFile {run}/fcgid-shm\n")
    try:
        serves_miss_then_hit(port)
        purges_with_the_token_only(port)
        assert exe_pids(binary), "mod_fcgid runs the installed binary"
    except AssertionError:
        print(output(log), read(f"{run}/error.log"))
        raise
    finally:
        stop_process(proc)
        logf.close()
    wait_for(lambda: not [p for p in exe_pids(binary) if pid_alive(p)], 15,
             "mod_fcgid's responders to stop")
    assert_none_left(binary)


class AsTheUnit:
    """The responder as todos-fcgi.socket + todos-fcgi.service start it:
    the service's ExecStart, the example settings file (values for this
    test's Redis and upstream), an unprivileged user, and the listening
    socket on fd 0 with the socket unit's group and mode.  trace: run it
    under strace -f, the system calls written there."""

    def __init__(self, installed, redis, upstream, trace=None):
        self.run = rundir(installed, "unit")
        sock_unit = unit(installed, "todos-fcgi.socket")
        service = unit(installed, "todos-fcgi.service")
        self.path = os.path.join(self.run, os.path.basename(
            unit_values(sock_unit, "ListenStream")[0]))
        env = {}
        settings = substituted(read(data(installed, "todos-fcgi.env")), [
            ("REDIS_URL=redis://127.0.0.1:6379/0", f"REDIS_URL={redis.url}"),
            ("UPSTREAM_URL=https://jsonplaceholder.typicode.com",
             f"UPSTREAM_URL={upstream.url}"),
            ("#PURGE_TOKEN=", f"PURGE_TOKEN={TOKEN}")])
        for line in settings.splitlines():
            if line and not line.startswith("#"):
                k, v = line.split("=", 1)
                env[k] = v
        env["LOG_LEVEL"] = "warn"
        if os.path.exists(self.path):
            os.unlink(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        listener.listen(int(unit_values(sock_unit, "Backlog")[0]))
        os.chown(self.path, 0, grp.getgrnam(unit_values(sock_unit, "SocketGroup")[0]).gr_gid)
        os.chmod(self.path, int(unit_values(sock_unit, "SocketMode")[0], 8))
        assert unit_values(service, "StandardInput") == ["socket"]
        cmd = unit_values(service, "ExecStart")[0].split()
        user = {"user": "nobody", "group": "nogroup"}
        self.traced = trace is not None
        if trace is not None:
            # strace (root, to write the trace) runs it as nobody.
            cmd = ["strace", "-f", "-qq", "-u", "nobody", "-o", trace] + cmd
            user = {}
            # A sanitizer build: LeakSanitizer cannot run under ptrace.
            env["ASAN_OPTIONS"] = "detect_leaks=0"
        self.log = os.path.join(self.run, "responder.log")
        self.proc, self.logf = start(cmd, self.log, stdin=listener.fileno(), env=env,
                                     **user)
        listener.close()

    def stop(self):
        """SIGTERM, as systemctl stop sends it: a graceful exit, status 0."""
        if self.proc is None:
            return
        if self.traced:
            # strace exits with its tracee's status: signal the tracee.
            for pid in children(self.proc.pid):
                os.kill(pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        rc = stop_process(self.proc)
        self.proc = None
        self.logf.close()
        os.unlink(self.path)
        assert rc == 0, f"SIGTERM: exit {rc}\n{output(self.log)}"


def test_apache_mod_fcgid_on_a_shared_host(installed, redis, upstream):
    """The .htaccess and wrapper script examples, as a shared host's user
    would put them in the web root (AllowOverride All)."""
    run = rundir(installed, "apache-shared")
    www = os.path.join(run, "htdocs")
    os.makedirs(www, mode=0o755, exist_ok=True)
    script = substituted(read(data(installed, "apache", "todos-fcgi.fcgi")), [
        ("REDIS_URL='redis://127.0.0.1:6379/0'", f"REDIS_URL='{redis.url}'"),
        ("UPSTREAM_URL='https://jsonplaceholder.typicode.com'",
         f"UPSTREAM_URL='{upstream.url}'"),
        ("#export PURGE_TOKEN='at-least-16-printable-characters'",
         f"export PURGE_TOKEN='{TOKEN}'")])
    binary = os.path.join(installed, "sbin", "todos-fcgi")
    assert f"exec {binary}\n" in script
    with open(os.path.join(www, "todos-fcgi.fcgi"), "w") as f:
        f.write(script)
    os.chmod(os.path.join(www, "todos-fcgi.fcgi"), 0o755)
    shutil.copy(data(installed, "apache", "htaccess-fcgid"), os.path.join(www, ".htaccess"))
    os.chmod(os.path.join(www, ".htaccess"), 0o644)
    proc, logf, port, log = run_apache(
        run, "LoadModule fcgid_module modules/mod_fcgid.so\n"
             "LoadModule rewrite_module modules/mod_rewrite.so\n"
             "LoadModule mime_module modules/mod_mime.so", "",
        extra=f"FcgidIPCDir {run}/fcgid\nFcgidProcessTableFile {run}/fcgid-shm\n"
              f"TypesConfig /etc/mime.types\nAccessFileName .htaccess\n<Directory {www}>\n\tAllowOverride All\n"
              "\tRequire all granted\n</Directory>\n")
    try:
        serves_miss_then_hit(port)
        purges_with_the_token_only(port)
        assert exe_pids(binary), "the script became the installed binary"
    except AssertionError:
        print(output(log), read(f"{run}/error.log"))
        raise
    finally:
        stop_process(proc)
        logf.close()
    wait_for(lambda: not [p for p in exe_pids(binary) if pid_alive(p)], 15,
             "mod_fcgid's responders to stop")
    assert_none_left(binary)


@pytest.fixture
def as_the_unit(installed, redis, upstream):
    responder = AsTheUnit(installed, redis, upstream)
    yield responder
    responder.stop()


def run_nginx(installed, sock):
    """nginx with the installed snippet (its listen port and socket path
    substituted), in the foreground; returns (proc, logf, port, log)."""
    run = rundir(installed, "nginx")
    port = free_port()
    text = substituted(read(data(installed, "nginx", "todos-fcgi.conf")), [
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("unix:/run/todos-fcgi.sock;", f"unix:{sock};")])
    with open(os.path.join(run, "todos-fcgi.conf"), "w") as f:
        f.write(text)
    shutil.copy("/etc/nginx/fastcgi_params", run)
    conf = os.path.join(run, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"user www-data;\nworker_processes 1;\npid {run}/nginx.pid;\n"
                f"error_log {run}/error.log warn;\nevents {{ worker_connections 64; }}\n"
                f"http {{\n\taccess_log off;\n\tclient_body_temp_path {run}/body;\n"
                f"\tfastcgi_temp_path {run}/fastcgi;\n\tproxy_temp_path {run}/proxy;\n"
                f"\tuwsgi_temp_path {run}/uwsgi;\n\tscgi_temp_path {run}/scgi;\n"
                f"\tinclude todos-fcgi.conf;\n}}\n")
    r = subprocess.run(["nginx", "-t", "-q", "-e", "stderr", "-p", run, "-c", conf],
                       capture_output=True, text=True)
    assert r.returncode == 0, r
    log = os.path.join(run, "nginx.log")
    proc, logf = start(["nginx", "-e", "stderr", "-p", run, "-c", conf, "-g", "daemon off;"],
                       log)
    try:
        wait_for(lambda: accepting(proc, port), 20, "nginx")
    except AssertionError:
        stop_process(proc)
        logf.close()
        print(output(log), read(f"{run}/error.log") if os.path.exists(f"{run}/error.log") else "")
        raise
    return proc, logf, port, log


def test_nginx_with_the_installed_snippet(installed, as_the_unit):
    proc, logf, port, log = run_nginx(installed, as_the_unit.path)
    try:
        serves_miss_then_hit(port)
        purges_with_the_token_only(port)
    except AssertionError:
        print(output(log), output(as_the_unit.log))
        raise
    finally:
        stop_process(proc)
        logf.close()


def syscall_groups():
    """systemd's system call groups, each expanded to plain names."""
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True,
                         text=True, check=True).stdout
    groups, name = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            name = line.strip()
            groups[name] = set()
        elif name and line.strip() and not line.strip().startswith("#"):
            groups[name].add(line.strip())

    def expand(group, seen=()):
        names = set()
        for entry in groups[group]:
            if entry.startswith("@"):
                if entry not in seen:
                    names |= expand(entry, seen + (group,))
            else:
                names.add(entry)
        return names
    return expand


def test_the_service_keeps_within_its_sandbox(installed, redis, upstream, tmp_path):
    """Run as the unit, under strace, through nginx (MISS, HIT, purge, a
    404, SIGTERM): every system call is one the unit's SystemCallFilter
    allows, every socket a family RestrictAddressFamilies allows, no
    mapping is both writable and executable (MemoryDenyWriteExecute), no
    file is opened for writing (ProtectSystem=strict), none in the homes,
    no device but null/zero/full/random/urandom (PrivateDevices).  Not a
    running systemd, but what the responder asks of the system, checked
    against what the unit lets it have."""
    trace = str(tmp_path / "strace.out")
    responder = AsTheUnit(installed, redis, upstream, trace=trace)
    try:
        proc, logf, port, log = run_nginx(installed, responder.path)
        try:
            serves_miss_then_hit(port)
            purges_with_the_token_only(port)
            assert http_request(port, "GET", "/get_todos/999").status == 404
        finally:
            stop_process(proc)
            logf.close()
    finally:
        responder.stop()
    service = read(unit(installed, "todos-fcgi.service"))
    expand = syscall_groups()

    def names(words):
        return set().union(*(expand(w) if w.startswith("@") else {w} for w in words))
    # The first line is an allow list; the later ones, in order, take away
    # (~) or give back, as systemd merges them.
    filters = re.findall(r"^SystemCallFilter=(.*)$", service, re.M)
    assert filters and not filters[0].startswith("~"), filters
    allowed = names(filters[0].split())
    for more in filters[1:]:
        if more.startswith("~"):
            allowed -= names(more[1:].split())
        else:
            allowed |= names(more.split())
    text = read(trace)
    used = set(re.findall(r"^\d+ +(?:<\.\.\. )?([a-z0-9_]+)(?:\(| resumed>)", text, re.M))
    assert "accept4" in used and "execve" in used, sorted(used)
    # nginx's fastcgi_keep_conn + keepalive: the 8 requests above came on
    # fewer connections than requests (one, unless nginx dropped it).
    accepted = re.findall(r"accept4(?:\(| resumed>).*\) = \d+$", text, re.M)
    assert 1 <= len(accepted) < 8, accepted
    assert used - allowed == set(), sorted(used - allowed)
    families = set(re.findall(r"\bsocket\((AF_[A-Z0-9]+)", text))
    allowed_families = re.findall(r"^RestrictAddressFamilies=(.*)$", service, re.M)[0].split()
    assert families and families <= set(allowed_families), families
    assert "MemoryDenyWriteExecute=yes" in service.splitlines()
    wx = [line for line in text.splitlines()
          if re.search(r"\b(mmap|mprotect|pkey_mprotect)\(", line)
          and "PROT_WRITE" in line and "PROT_EXEC" in line]
    assert not wx, wx
    # ProtectSystem=strict with no writable path listed, ProtectHome,
    # PrivateDevices: nothing opened for writing, nothing under the homes,
    # no device but the harmless ones.
    assert "ProtectSystem=strict" in service.splitlines()
    assert "ReadWritePaths" not in service and "RuntimeDirectory" not in service
    opened = re.findall(r'\bopen(?:at)?\((?:[^"]*)"([^"]*)", ([A-Z_|]+)', text)
    assert opened, "no open() traced"
    writes = [(p, f) for p, f in opened if re.search(r"O_WRONLY|O_RDWR|O_CREAT", f)]
    assert not writes, writes
    assert not [p for p, _ in opened if re.match(r"/(home|root)(/|$)", p)], opened
    devices = {p for p, _ in opened if p.startswith("/dev/")}
    assert devices <= {"/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                       "/dev/urandom"}, devices


def test_apache_mod_proxy_fcgi_with_the_installed_example(installed, as_the_unit):
    run = rundir(installed, "apache-proxy")
    text = substituted(read(data(installed, "apache", "todos-fcgi-proxy.conf")), [
        ("unix:/run/todos-fcgi.sock|", f"unix:{as_the_unit.path}|")])
    proc, logf, port, log = run_apache(
        run, "LoadModule proxy_module modules/mod_proxy.so\n"
             "LoadModule proxy_fcgi_module modules/mod_proxy_fcgi.so", text)
    try:
        serves_miss_then_hit(port)
        purges_with_the_token_only(port)
    except AssertionError:
        print(output(log), read(f"{run}/error.log"))
        raise
    finally:
        stop_process(proc)
        logf.close()


def test_builds_with_debian_package_build_flags(tmp_path):
    """A Debian package builds with dpkg-buildflags' CFLAGS, CPPFLAGS and
    LDFLAGS on make's command line (Debian 12's defaults, written out:
    dpkg-dev need not be installed).  _FORTIFY_SOURCE marks write() and
    friends warn_unused_result, which -Werror turns into a failed build;
    and a command-line CPPFLAGS must not drop the project's own defines."""
    flags = {
        "CFLAGS": "-g -O2 -fstack-protector-strong -Wformat -Werror=format-security",
        "CPPFLAGS": "-Wdate-time -D_FORTIFY_SOURCE=2",
        "LDFLAGS": "-Wl,-z,relro",
    }
    out = tmp_path / "build"
    r = subprocess.run(["make", "-s", "-C", TOP, f"O={out}", "all",
                        *(f"{k}={v}" for k, v in flags.items())],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / "todos-fcgi").exists()
