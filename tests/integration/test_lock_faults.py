"""The fill lock when Redis is slow for one command: a small TCP proxy
between the responders and the real redis-server holds back only the
`SET <lock> NX PX` of one key (or only its reply), or the release of the
lock, for longer than REDIS_TIMEOUT_MS.  The owner gives up on the lock; it
must not leave a lock behind that others wait out."""

import socket
import threading
import time

import pytest

from harness import TODOS, wait_for

HOLD_S = 0.4  # > REDIS_TIMEOUT_MS (250 ms)


class LockDelayProxy:
    """Forwards 127.0.0.1:port to Redis; the first SET ... NX (or, with
    command=b"EVAL", the first script call) naming a key that contains
    `match` is held back HOLD_S, either before it reaches Redis
    (where="command": Redis runs it after the client has timed out), or
    then lost (where="drop": Redis never runs it), or its reply on the way
    back (where="reply": Redis runs it at once, the client times out
    before it hears so).  Data keeps its order on each connection, and
    what the client sent before it closed still reaches Redis, as on a
    real network."""

    def __init__(self, redis_port, match, where, command=b"SET"):
        self.redis_port = redis_port
        self.match = match
        self.where = where
        self.command = command
        self.held = 0
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def close(self):
        self.closing = True
        self.listener.close()

    def _accept(self):
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.redis_port), timeout=5)
            server.settimeout(None)
            hold_reply = threading.Event()
            threading.Thread(target=self._up, args=(client, server, hold_reply),
                             daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, hold_reply),
                             daemon=True).start()

    def _take(self, data):
        """Is this the one lock command to hold back?"""
        if b"\r\n" + self.command + b"\r\n" not in data or self.match not in data:
            return False
        if self.command == b"SET" and b"\r\nNX\r\n" not in data:
            return False
        with self.lock:
            if self.held:
                return False
            self.held = 1
            return True

    def _up(self, client, server, hold_reply):
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                if self._take(data):
                    if self.where == "reply":
                        hold_reply.set()
                    else:
                        time.sleep(HOLD_S)
                        if self.where == "drop":
                            continue
                server.sendall(data)
        except OSError:
            pass
        # The client is gone; Redis still gets (and runs) what it sent.
        try:
            server.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _down(self, server, client, hold_reply):
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                if hold_reply.is_set():
                    hold_reply.clear()
                    time.sleep(HOLD_S)
                client.sendall(data)
        except OSError:
            pass
        for s in (client, server):
            try:
                s.close()
            except OSError:
                pass


@pytest.fixture
def proxy_for(redis):
    made = []

    def make(match, where, command=b"SET"):
        p = LockDelayProxy(redis.port, match, where, command)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def test_a_lock_set_after_its_owner_gave_up_is_not_waited_out(make_service, upstream,
                                                              redis, proxy_for):
    proxy = proxy_for(b"lock:/todos/8", "command")
    s = make_service(REDIS_URL=proxy.url, UPSTREAM_TIMEOUT_MS=3000, FCGI_PROCS=2)
    # The owner's lock command times out: it answers from the upstream.
    r = s.get("/get_todos/8")
    assert r.status == 200 and r.json() == TODOS[7]
    assert r.headers["x-cache"] == "BYPASS"
    assert proxy.held == 1
    # Redis runs the held-back SET after all: the lock stands, with no one
    # behind it.
    wait_for(lambda: redis.cli("EXISTS", "todos:v1:lock:/todos/8") == "1", 3,
             "the late SET NX to reach Redis")
    start = time.monotonic()
    r = s.get("/get_todos/8")
    took = time.monotonic() - start
    # Not 504 after UPSTREAM_TIMEOUT_MS: the lock is known abandoned, the
    # request takes it over and fills.
    assert r.status == 200 and r.json() == TODOS[7], r
    assert r.headers["x-cache"] == "MISS"
    assert took < 1.5, took
    assert upstream.count("/todos/8") == 2
    assert s.get("/get_todos/8").headers["x-cache"] == "HIT"
    assert redis.cli("EXISTS", "todos:v1:lock:/todos/8") == "0"


def test_a_lock_whose_reply_came_too_late_is_released_by_its_owner(make_service, upstream,
                                                                   redis, proxy_for):
    proxy = proxy_for(b"lock:/todos/9", "reply")
    s = make_service(REDIS_URL=proxy.url, UPSTREAM_TIMEOUT_MS=3000, FCGI_PROCS=2)
    r = s.get("/get_todos/9")
    assert r.status == 200 and r.headers["x-cache"] == "BYPASS"
    assert proxy.held == 1
    # Redis took the lock at once; the owner, not having heard so,
    # released it by its token before answering.
    assert redis.cli("EXISTS", "todos:v1:lock:/todos/9") == "0"
    # (The timeout put the owner's process in its Redis back-off, 100 ms,
    # during which its other threads answer BYPASS: let it pass.)
    time.sleep(0.3)
    start = time.monotonic()
    r = s.get("/get_todos/9")
    took = time.monotonic() - start
    assert r.status == 200 and r.headers["x-cache"] == "MISS", r
    assert took < 1.5, took
    assert upstream.count("/todos/9") == 2


def test_a_release_lost_on_the_way_does_not_hold_up_the_waiters(make_service, upstream,
                                                                redis, proxy_for):
    # The owner's fetch fails after 500 ms; its release (and the failure
    # note that goes with it) times out and never reaches Redis.
    proxy = proxy_for(b"lock:/todos/10", "drop", command=b"EVAL")
    s = make_service(REDIS_URL=proxy.url, UPSTREAM_TIMEOUT_MS=3000, FCGI_PROCS=2,
                     FCGI_THREADS=1)
    upstream.override("/todos/10", "{}", status=500)
    upstream.fault(path="/todos/10", mode="delay", delay_ms=500)
    got = {}

    def get(name):
        start = time.monotonic()
        got[name] = (s.get("/get_todos/10"), time.monotonic() - start)

    owner = threading.Thread(target=get, args=("owner",))
    owner.start()
    wait_for(lambda: upstream.count("/todos/10") == 1, 5, "the owner's fetch")
    waiter = threading.Thread(target=get, args=("waiter",))
    waiter.start()  # in the other process: one thread each
    owner.join(10)
    waiter.join(10)
    assert proxy.held == 1
    assert got["owner"][0].status == 502
    # Not 504 after UPSTREAM_TIMEOUT_MS: the owner gave the lock up when
    # its release failed; the waiter took it and asked for itself.
    r, took = got["waiter"]
    assert r.status == 502, r
    assert took < 2.0, took
    assert upstream.count("/todos/10") == 2
