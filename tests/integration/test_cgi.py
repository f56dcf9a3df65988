"""The same binary as a plain CGI program (shared hosting), through
lighttpd's mod_cgi: under a script URL and at the root via a rewrite."""

import os
import signal
import subprocess

import pytest

from harness import RESPONDER, TODOS, free_port, http_request, stop_process, wait_for


@pytest.fixture
def cgi_server(tmp_path, redis, upstream):
    """lighttpd with mod_cgi running cgi-bin/todos.cgi, a wrapper that sets
    the configuration and execs the binary (the shared-hosting recipe)."""
    port = free_port()
    cgi = tmp_path / "cgi-bin"
    cgi.mkdir()
    (tmp_path / "www").mkdir()
    script = cgi / "todos.cgi"
    script.write_text("#!/bin/sh\n"
                      f"export REDIS_URL='{redis.url}'\n"
                      f"export UPSTREAM_URL='{upstream.url}'\n"
                      "export PURGE_TOKEN='cgi-token-0123456789'\n"
                      f"exec '{RESPONDER}'\n")
    script.chmod(0o755)
    conf = tmp_path / "lighttpd.conf"
    conf.write_text(f"""
server.port = {port}
server.bind = "127.0.0.1"
server.document-root = "{tmp_path}/www"
server.modules = ("mod_alias", "mod_rewrite", "mod_cgi")
alias.url = ("/cgi-bin/" => "{cgi}/")
cgi.assign = (".cgi" => "")
url.rewrite-once = ("^/(get_todos.*)$" => "/cgi-bin/todos.cgi/$1")
""")
    proc = subprocess.Popen(["lighttpd", "-D", "-f", str(conf)],
                            stderr=open(tmp_path / "lighttpd.log", "wb"))

    def up():
        try:
            http_request(port, "GET", "/", timeout=1)
            return True
        except OSError:
            return False
    wait_for(up, 10, "lighttpd with mod_cgi")
    yield port
    stop_process(proc)


def test_cgi_under_a_script_url(cgi_server, upstream):
    r = http_request(cgi_server, "GET", "/cgi-bin/todos.cgi/get_todos/3")
    assert r.status == 200 and r.headers["x-cache"] == "MISS"
    assert r.json() == TODOS[2]
    r = http_request(cgi_server, "GET", "/cgi-bin/todos.cgi/get_todos/3?x=1")
    assert r.status == 200 and r.headers["x-cache"] == "HIT"
    assert upstream.count("/todos/3") == 1
    assert http_request(cgi_server, "GET", "/cgi-bin/todos.cgi/get_todos").json() == TODOS
    r = http_request(cgi_server, "GET", "/cgi-bin/todos.cgi/get_todos/abc")
    assert r.status == 400 and r.headers["content-type"] == "application/json"
    assert http_request(cgi_server, "GET", "/cgi-bin/todos.cgi/nope").status == 404
    assert http_request(cgi_server, "GET", "/cgi-bin/todos.cgi/health").json()["redis"] == "up"


def test_cgi_at_the_root_through_a_rewrite(cgi_server, upstream):
    r = http_request(cgi_server, "GET", "/get_todos/4")
    assert r.status == 200 and r.json() == TODOS[3]
    assert http_request(cgi_server, "GET", "/get_todos/4").headers["x-cache"] == "HIT"
    assert upstream.count("/todos/4") == 1


def test_cgi_purge_and_validators(cgi_server):
    first = http_request(cgi_server, "GET", "/cgi-bin/todos.cgi/get_todos/5")
    r = http_request(cgi_server, "GET", "/cgi-bin/todos.cgi/get_todos/5",
                     headers={"If-None-Match": first.headers["etag"]})
    assert r.status == 304
    r = http_request(cgi_server, "DELETE", "/cgi-bin/todos.cgi/get_todos/5",
                     headers={"Authorization": "Bearer cgi-token-0123456789"})
    assert r.status == 200 and r.json() == {"purged": True}
