"""docker-compose.yml and the Dockerfile, checked for structure (no Docker
engine here): they must stay in step with `make run` and the README."""

import os
import re

import yaml

from harness import TOP


def read(name):
    with open(os.path.join(TOP, name)) as f:
        return f.read()


def readme_variables():
    table = read("README.md").split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z_]+)` \|", table, re.M))


def compose():
    return yaml.safe_load(read("docker-compose.yml"))


def test_readme_documents_the_configuration():
    names = readme_variables()
    required = {"PORT", "UPSTREAM_URL", "REDIS_URL", "CACHE_TTL", "UPSTREAM_TIMEOUT_MS",
                "UPSTREAM_MAX_BYTES", "CACHE_PREFIX", "LOG_LEVEL"}
    assert required <= names, required - names
    # Every variable the responder reads is documented.
    read_by_code = set(re.findall(r'"([A-Z][A-Z_]+)"', read("fcgi/config.c")))
    assert read_by_code <= names, read_by_code - names


def test_redis_service_has_a_healthcheck():
    redis = compose()["services"]["redis"]
    assert redis["image"].startswith("redis:")
    assert "redis-cli" in redis["healthcheck"]["test"] and "ping" in redis["healthcheck"]["test"]


def test_app_serves_5000_on_the_shared_redis():
    app = compose()["services"]["app"]
    assert app["build"] == "."
    assert "5000:5000" in app["ports"]
    assert app["depends_on"]["redis"]["condition"] == "service_healthy"
    env = app["environment"]
    assert env["PORT"] == "5000"
    assert env["BIND"] == "0.0.0.0"
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert set(env) <= readme_variables(), set(env) - readme_variables()


def test_dockerfile_builds_with_the_makefile_and_runs_like_make_run():
    docker = read("Dockerfile")
    assert re.search(r"^FROM debian:bookworm-slim", docker, re.M)
    assert re.search(r"^RUN make$", docker, re.M)
    assert "COPY Makefile" in docker and "COPY fcgi/ fcgi/" in docker
    assert "COPY lighttpd/ lighttpd/" in docker
    # Everything lighttpd/run sources is in the image too.
    for sourced in re.findall(r'^\. "\$top/([^/"]+)/', read("lighttpd/run"), re.M):
        assert f"COPY {sourced}/ {sourced}/" in docker, sourced
    assert 'CMD ["lighttpd/run"]' in docker
    # The binary lands where RESPONDER says, and the app is not root.
    responder = re.search(r"RESPONDER=(\S+)", docker).group(1)
    dest = re.search(r"COPY --from=build /src/build/todos-fcgi (\S+)", docker).group(1)
    assert responder == "/app/" + dest
    user = re.findall(r"^USER (\S+)", docker, re.M)
    assert user and user[-1] not in ("root", "0")
    # The build stage installs the same -dev packages as `make`'s deps.
    makefile = read("Makefile")
    debs = re.search(r"DEBS_BUILD = (.*?)\n(?!\s)", makefile, re.S).group(1).split()
    for pkg in debs:
        if pkg.endswith("-dev"):
            assert pkg in docker, pkg
