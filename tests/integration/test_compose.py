"""docker-compose.yml and the Dockerfile, checked for structure: they must
stay in step with `make run`, the Makefile and the README.  The image is
built and the stack run for real by `make container-check`
(tests/container/check.sh, with podman); this file runs without it."""

import fnmatch
import os
import re
import subprocess

import yaml

from harness import TOP

# What compose sets itself, and what is the image's own layout (paths inside
# it: a value from the user's shell would name the host's files).
COMPOSE_FIXED = {"PORT": "5000", "BIND": "0.0.0.0", "REDIS_URL": "redis://redis:6379/0"}
IMAGE_OWN = {"RUNDIR", "RESPONDER", "METRICS_FILE"}


def read(name):
    with open(os.path.join(TOP, name)) as f:
        return f.read()


def readme_variables():
    table = read("README.md").split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z_]+)` \|", table, re.M))


def compose():
    return yaml.safe_load(read("docker-compose.yml"))


def app_environment():
    """(fixed {NAME: value}, [names forwarded from the shell]) of the app."""
    env = compose()["services"]["app"]["environment"]
    # A list: `- NAME` passes NAME only if it is set in the shell, in
    # docker compose and podman-compose alike.
    assert isinstance(env, list), env
    fixed, named = {}, []
    for entry in env:
        name, eq, value = entry.partition("=")
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), entry
        if eq:
            fixed[name] = value
        else:
            named.append(name)
    names = list(fixed) + named
    assert len(names) == len(set(names)), names
    return fixed, named


def build_stage(docker):
    """The Dockerfile's lines from its first FROM to the next."""
    return re.split(r"^FROM ", docker, flags=re.M)[1]


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
    fixed, named = app_environment()
    assert fixed == COMPOSE_FIXED


def test_compose_forwards_every_readme_setting_by_name():
    fixed, named = app_environment()
    readme = readme_variables()
    # Every setting of the README's table is forwarded, fixed by compose or
    # the image's own; nothing else.
    assert set(named) == readme - set(fixed) - IMAGE_OWN, \
        (readme - set(fixed) - IMAGE_OWN) ^ set(named)
    assert IMAGE_OWN <= readme and not IMAGE_OWN & set(named)
    # `- NAME=${NAME:-}` would pass an empty string for an unset variable
    # (podman-compose 1.0.3: the literal text); by name alone, it is not set.
    assert "${" not in read("docker-compose.yml")


def test_build_stage_copies_every_makefile_include():
    stage = build_stage(read("Dockerfile"))
    copied = []
    for line in re.findall(r"^COPY (?!--from)(.+)$", stage, re.M):
        copied += [src.rstrip("/") for src in line.split()[:-1]]
    ignored = [p.rstrip("/") for p in read(".dockerignore").splitlines()
               if p.strip() and not p.startswith("#")]
    includes = [f for line in re.findall(r"^-?include\s+(.+)$", read("Makefile"), re.M)
                for f in line.split()]
    assert len(includes) >= 4, includes
    for inc in includes:
        assert os.path.isfile(os.path.join(TOP, inc)), inc
        assert any(src in (".", inc) or inc.startswith(src + "/") for src in copied), \
            f"{inc}: the Makefile includes it, the build stage does not copy it"
        parts = inc.split("/")
        for pat in ignored:
            pat = pat.removeprefix("**/")
            for i in range(len(parts)):
                assert not fnmatch.fnmatch("/".join(parts[:i + 1]), pat) and \
                    not fnmatch.fnmatch(parts[i], pat), f"{inc}: .dockerignore {pat}"


def healthcheck_command():
    test = compose()["services"]["app"]["healthcheck"]["test"]
    # One string for /bin/sh: podman-compose 1.0.3 joins a CMD list into one
    # shell line, which would split a `bash -c` script into words.
    assert test[0] == "CMD-SHELL" and len(test) == 2, test
    return test[1].replace("$$", "$")


def test_app_healthcheck_asks_health_without_curl():
    cmd = healthcheck_command()
    assert "GET /health " in cmd and "/dev/tcp/127.0.0.1/5000" in cmd
    assert not re.search(r"\b(curl|wget)\b", cmd)
    runtime = re.split(r"^FROM ", read("Dockerfile"), flags=re.M)[2]
    assert not re.search(r"\b(curl|wget)\b", runtime)


def test_app_healthcheck_holds_while_the_app_answers(make_service):
    s = make_service()
    cmd = healthcheck_command().replace("/dev/tcp/127.0.0.1/5000",
                                        f"/dev/tcp/127.0.0.1/{s.port}")
    run = subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, timeout=10)
    assert run.returncode == 0, run
    s.stop()
    run = subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, timeout=10)
    assert run.returncode != 0, run


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


def test_readme_package_table_matches_the_makefile():
    """The README says what `make test` installs: each DEBS_* row of its
    table must be the Makefile's list, word for word."""
    mk = read("Makefile")
    rows = {"DEBS_BUILD": "the build", "DEBS_RUN": "`make run`", "DEBS_TEST": "the suites"}
    readme = read("README.md")
    for var, row in rows.items():
        m = re.search(rf"^{var}\s*=\s*((?:.*\\\n)*.*)$", mk, re.M)
        want = m.group(1).replace("\\\n", " ").split()
        shown = re.search(rf"^\| {re.escape(row)} \| `([^`]*)` \| `{var}`", readme, re.M)
        assert shown, f"README: no package row for {var}"
        assert shown.group(1).split() == want, var
