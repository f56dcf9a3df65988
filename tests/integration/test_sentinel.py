"""Redis Sentinel: a primary, a replica and three real sentinels on
loopback; the primary is killed and every request is still answered 200,
and caching resumes on the promoted replica."""

import os
import signal
import subprocess
import time

import pytest

from harness import TODOS, free_port, stop_process, wait_for


class Node:
    def __init__(self, tmpdir, name, args):
        self.dir = os.path.join(tmpdir, name)
        os.makedirs(self.dir)
        self.port = free_port()
        self.args = args
        self.proc = None

    def start(self, sentinel=False):
        conf = os.path.join(self.dir, "node.conf")
        with open(conf, "w") as f:
            f.write(f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
                    f"save \"\"\nappendonly no\nlogfile {self.dir}/log\n" + self.args(self))
        cmd = ["redis-sentinel", conf] if sentinel else ["redis-server", conf]
        self.proc = subprocess.Popen(cmd)
        wait_for(lambda: self.cli("PING") == "PONG", 10, f"{self.dir} to answer")
        return self

    def cli(self, *args):
        try:
            out = subprocess.run(["redis-cli", "-p", str(self.port), *args],
                                 capture_output=True, timeout=5)
            return out.stdout.decode().strip()
        except subprocess.TimeoutExpired:
            return ""


@pytest.fixture
def cluster(tmp_path):
    nodes = []
    try:
        primary = Node(str(tmp_path), "primary", lambda n: "")
        nodes.append(primary.start())
        replica = Node(str(tmp_path), "replica",
                       lambda n: f"replicaof 127.0.0.1 {primary.port}\n")
        nodes.append(replica.start())
        wait_for(lambda: "master_link_status:up" in replica.cli("INFO", "replication"), 10,
                 "the replica to sync")
        sentinels = []
        for i in range(3):
            s = Node(str(tmp_path), f"sentinel{i}", lambda n: (
                f"sentinel monitor mymaster 127.0.0.1 {primary.port} 2\n"
                "sentinel down-after-milliseconds mymaster 1000\n"
                "sentinel failover-timeout mymaster 5000\n"
                "sentinel parallel-syncs mymaster 1\n"))
            nodes.append(s.start(sentinel=True))
            sentinels.append(s)
        for s in sentinels:
            wait_for(lambda: "num-other-sentinels" in s.cli("SENTINEL", "master", "mymaster")
                     and int(dict(zip(*[iter(s.cli("SENTINEL", "master", "mymaster").split("\n"))] * 2))
                             ["num-other-sentinels"]) == 2, 15, "the sentinels to see each other")
        yield primary, replica, sentinels
    finally:
        for n in reversed(nodes):
            if n.proc is not None:
                stop_process(n.proc, timeout=5)


def test_failover_keeps_answering_and_caching_resumes(cluster, make_service, upstream):
    primary, replica, sentinels = cluster
    s = make_service(
        REDIS_SENTINELS=",".join(f"127.0.0.1:{x.port}" for x in sentinels),
        REDIS_MASTER="mymaster", REDIS_URL=f"redis://127.0.0.1:{primary.port}/0",
        REDIS_TIMEOUT_MS=200)
    assert s.get("/get_todos/1").headers["x-cache"] == "MISS"
    assert s.get("/get_todos/1").headers["x-cache"] == "HIT"
    assert primary.cli("EXISTS", "todos:v1:/todos/1") == "1"

    primary.proc.send_signal(signal.SIGKILL)
    primary.proc.wait()
    killed = time.monotonic()
    seen, resumed = [], None
    n = 0
    while time.monotonic() - killed < 20:
        n += 1
        r = s.get(f"/get_todos/{(n % 150) + 2}")
        assert r.status == 200, (r, time.monotonic() - killed)
        assert r.headers["x-cache"] in ("HIT", "MISS", "BYPASS", "STALE")
        seen.append(r.headers["x-cache"])
        again = s.get(f"/get_todos/{(n % 150) + 2}")
        assert again.status == 200
        if r.headers["x-cache"] == "MISS" and again.headers["x-cache"] == "HIT" and \
                replica.cli("ROLE").startswith("master"):
            resumed = time.monotonic() - killed
            break
        time.sleep(0.05)
    assert resumed is not None and resumed < 15, (resumed, seen[-10:])
    # The promoted replica holds what the old primary had, and new fills.
    assert replica.cli("EXISTS", "todos:v1:/todos/1") == "1"
    print(f"caching resumed {resumed:.1f} s after the primary was killed; "
          f"{len(seen)} requests, {seen.count('BYPASS')} BYPASS")


def test_sentinel_config_errors(make_service):
    from harness import RESPONDER
    env = dict(os.environ, REDIS_SENTINELS="127.0.0.1:1")
    r = subprocess.run([RESPONDER, "--check-config"], env=env, capture_output=True)
    assert r.returncode == 78 and b"REDIS_MASTER" in r.stderr
    env = dict(os.environ, REDIS_SENTINELS="nohostport", REDIS_MASTER="m")
    r = subprocess.run([RESPONDER, "--check-config"], env=env, capture_output=True)
    assert r.returncode == 78 and b"REDIS_SENTINELS" in r.stderr
