"""Fixtures: one redis-server and one fake upstream per test module, a
service (lighttpd + responders) on top, all reset before each test."""

import pytest

from harness import Redis, Service, Upstream


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    r = Redis(tmp_path_factory.mktemp("redis")).start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    u = Upstream(tmp_path_factory.mktemp("upstream")).start()
    yield u
    u.stop()


@pytest.fixture(scope="module")
def make_service(tmp_path_factory, redis, upstream):
    """Starts services with the module's Redis and upstream; env overrides."""
    started = []

    def make(**env):
        env.setdefault("REDIS_URL", redis.url)
        env.setdefault("UPSTREAM_URL", upstream.url)
        env.setdefault("UPSTREAM_TIMEOUT_MS", 1500)
        env.setdefault("UPSTREAM_MAX_BYTES", 65536)
        # Tests that fail the upstream on purpose must not open the
        # circuit for the tests after them; test_stale.py sets its own.
        env.setdefault("CIRCUIT_FAILURES", 1000000)
        s = Service(tmp_path_factory.mktemp("service"), **env)
        started.append(s)
        return s.start()

    yield make
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def service(make_service):
    return make_service()


@pytest.fixture(autouse=True)
def clean(request, redis, upstream):
    """Each test starts with an empty cache and a well-behaved upstream."""
    if redis.proc is None:
        redis.start()
    redis.cli("FLUSHALL")
    upstream.reset()
    yield
