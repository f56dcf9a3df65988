"""Who can reach the FastCGI sockets (issue 9 item 4).  Whoever can connect
to a FastCGI socket can send requests, purges included (and Debian 12's
libfcgi aborts a worker on some PARAMS lengths, which the responder now
refuses before libfcgi reads them: test_intake.py): no local user but the
web server's may.  For each front as its run script
starts it (lighttpd/run, apache/run, nginx/run), every socket the
responders listen on is found from /proc (not from what the scripts say),
and `nobody` fails to connect to each, while the service answers through
the front.
"""

import errno
import os
import socket
import subprocess

import pytest

from harness import FRONTS, PYTHON, children

# Connects to each address given (unix path, or HOST:PORT) as the user the
# test runs it as; prints one line per address: "ok" or the errno name.
PROBE = r"""
import errno, socket, sys
for a in sys.argv[1:]:
    if a.startswith("/"):
        s = socket.socket(socket.AF_UNIX)
        where = a
    else:
        host, port = a.rsplit(":", 1)
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        where = (host.strip("[]"), int(port))
    s.settimeout(5)
    try:
        s.connect(where)
        print("ok")
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
    finally:
        s.close()
"""


def socket_inodes(pid):
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return inodes
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def listening(inodes):
    """Addresses of the listening sockets among inodes: unix paths, and
    HOST:PORT for TCP (from /proc/net/unix, tcp, tcp6)."""
    found = []
    with open("/proc/net/unix") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            # Flags 00010000: __SO_ACCEPTCON, a listening socket.
            if len(fields) >= 8 and fields[6] in inodes and fields[3] == "00010000":
                found.append(fields[7])
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        with open(f"/proc/net/{name}") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[9] in inodes and fields[3] == "0A":  # LISTEN
                    addr, port = fields[1].split(":")
                    raw = bytes.fromhex(addr)
                    # /proc shows each 32-bit word in host (little-endian) order.
                    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                    host = socket.inet_ntop(family, raw)
                    if host in ("0.0.0.0", "::"):
                        host = "127.0.0.1" if family == socket.AF_INET else "::1"
                    found.append(f"[{host}]:{int(port, 16)}" if family == socket.AF_INET6
                                 else f"{host}:{int(port, 16)}")
    return sorted(found)


def fastcgi_sockets(s):
    """What the service's responders listen on: lighttpd's children, or the
    daemon and its workers."""
    parent = s.lighttpd_pid() if s.front == "lighttpd" else s.daemon_pid()
    pids = children(parent) if s.front == "lighttpd" else [parent, *children(parent)]
    assert pids, "no responder processes"
    inodes = set()
    for pid in pids:
        inodes |= socket_inodes(pid)
    return listening(inodes)


def connect_as(user, group, addresses):
    r = subprocess.run(["setpriv", f"--reuid={user}", f"--regid={group}", "--clear-groups",
                        PYTHON, "-c", PROBE, *addresses],
                       capture_output=True, timeout=30, cwd="/")
    assert r.returncode == 0, r
    return r.stdout.decode().split()


@pytest.mark.parametrize("front", FRONTS)
def test_nobody_cannot_connect_to_the_fastcgi_sockets(make_service, front, upstream):
    s = make_service(front=front)
    a = s.get("/get_todos/21")
    b = s.get("/get_todos/21")
    assert (a.status, a.headers["x-cache"]) == (200, "MISS"), a
    assert (b.status, b.headers["x-cache"]) == (200, "HIT"), b
    assert upstream.count("/todos/21") == 1

    addresses = fastcgi_sockets(s)
    assert addresses, "found no listening socket of the responders"
    results = connect_as("nobody", "nogroup", addresses)
    assert len(results) == len(addresses), results
    for address, result in zip(addresses, results):
        assert result in ("EACCES", "ECONNREFUSED"), (front, address, result)
    # root (this test) still reaches them: the probe itself works.
    if os.geteuid() == 0:
        assert connect_as("root", "root", addresses) == ["ok"] * len(addresses)


@pytest.mark.parametrize("front", ("apache", "nginx"))
def test_the_web_servers_user_reaches_the_daemon_socket(make_service, front):
    """www-data (the front's workers when started by root) may connect:
    the directory's group, mode 0710; the socket's parent is nobody else's."""
    if os.geteuid() != 0:
        pytest.skip("as another user, the front's workers run as that user")
    s = make_service(front=front)
    addresses = fastcgi_sockets(s)
    assert len(addresses) == 1 and addresses[0].startswith("/tmp/todos-fcgi-sock."), addresses
    st = os.stat(os.path.dirname(addresses[0]))
    assert (oct(st.st_mode & 0o7777), st.st_uid, st.st_gid) == (
        "0o710", 0, int(subprocess.check_output(["id", "-g", "www-data"])))
    assert connect_as("www-data", "www-data", addresses) == ["ok"]
    assert connect_as("nobody", "nogroup", addresses) == ["EACCES"]
    s.stop()
    assert not os.path.exists(os.path.dirname(addresses[0]))
