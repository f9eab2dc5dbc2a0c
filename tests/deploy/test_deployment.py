"""The deployment of docs/deployment.md, run for real and disturbed.

nginx (deploy/nginx/todos.conf) in front of 3 Daphne processes started with the
command of deploy/systemd/todos@.service, on PostgreSQL (a fresh database on the
test server, through Django's psycopg pool) and a private Redis started here on a
free port (channels_redis and the limits' cache), with the settings of the README's
production recipe. 30 WebSocket clients and 3 HTTP writers (real Automerge,
tests/node/deploy_clients.mjs) edit one list through nginx while one Daphne process
is killed with SIGKILL and restarted, and then Redis is restarted.

Skipped, saying how to enable it, without nginx, redis-server or PostgreSQL; failed
instead with TODOS_REQUIRE_SERVICES=1 (CI).
"""

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from tests import live, services
from tests.conftest import require_service

pytestmark = [pytest.mark.live, pytest.mark.postgres, pytest.mark.redis]

ROOT = live.ROOT
NGINX_CONF = ROOT / "deploy" / "nginx" / "todos.conf"
UNIT = ROOT / "deploy" / "systemd" / "todos@.service"
CLIENTS = ROOT / "tests" / "node" / "deploy_clients.mjs"
PROCESSES = 3


def require_program(name, package):
    """The path of program ``name``; skip (or fail, in CI) when it is missing."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path:
        return path
    reason = f"{name} is not installed; apt-get install {package} to run this test"
    if services.required():
        pytest.fail(f"TODOS_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} within {timeout} s")


class Redis:
    """A private redis-server on a free port (never the machine's shared one)."""

    def __init__(self, program, tmp_path):
        self.program = program
        self.port = live.free_port()
        self.dir = tmp_path / "redis"
        self.dir.mkdir()
        self.process = None

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self):
        log = open(self.dir / "redis.log", "ab")
        self.process = subprocess.Popen(
            [self.program, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until(self.ping, 10, f"redis-server did not answer on {self.port}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def daphne_command(port):
    """The unit's ExecStart for instance ``port``, with this checkout's venv."""
    text = UNIT.read_text()
    (line,) = re.findall(r"^ExecStart=(.*)$", text, re.MULTILINE)
    argv = shlex.split(line.replace("%i", str(port)))
    assert argv[0] == "/srv/todos/.venv/bin/daphne", argv
    assert "--proxy-headers" not in argv
    return [str(live.BIN / "daphne"), *argv[1:]]


class Daphne(live.LiveServer):
    """A Daphne process started as the systemd unit starts it."""

    def command(self):
        return daphne_command(self.port)


def render_nginx(tmp_path, port, upstream_ports):
    """The shipped server block with these ports, inside a main config of its own."""
    conf = NGINX_CONF.read_text()
    servers = "".join(
        f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n"
        for p in upstream_ports
    )
    conf, count = re.subn(r"(    server 127\.0\.0\.1:\d+[^\n]*\n)+", servers, conf)
    assert count == 1
    conf, count = re.subn(r"listen 80;", f"listen 127.0.0.1:{port};", conf)
    assert count == 1
    conf = conf.replace("server_name todos.example.org;", "server_name 127.0.0.1;")
    (tmp_path / "todos.conf").write_text(conf)
    temp = tmp_path / "temp"
    temp.mkdir()
    main = f"""
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
events {{ worker_connections 1024; }}
http {{
    log_format upstream '$request_method $uri $status $upstream_addr';
    access_log {tmp_path}/access.log upstream;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {tmp_path}/todos.conf;
}}
"""
    (tmp_path / "nginx.conf").write_text(main)
    return tmp_path / "nginx.conf"


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


@pytest.fixture
def deployment(tmp_path, postgres_database):
    nginx = require_program("nginx", "nginx")
    redis_server = require_program("redis-server", "redis-server")
    require_service("postgres")
    redis = Redis(redis_server, tmp_path)
    redis.start()
    nginx_port = live.free_port()
    env = live.server_env(
        database_url=postgres_database,
        redis_url=f"redis://127.0.0.1:{redis.port}/0",
        # The README's production recipe, over plain HTTP (no TLS in the test).
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="deployment-test-" + "x" * 40,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        TODOS_ALLOWED_ORIGINS=f"http://127.0.0.1:{nginx_port}",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_SECURE_COOKIES="0",
        DJANGO_HSTS_SECONDS="0",
        CACHE_URL=f"redis://127.0.0.1:{redis.port}/1",
        TODOS_TRUSTED_PROXIES="127.0.0.1",
        TODOS_LOG_FORMAT="json",
        # All clients here share one address: the recipe's 600/m would refuse them.
        TODOS_WRITE_RATE_LIMIT="100000/m",
        TODOS_CREATE_RATE_LIMIT="50/h",
        TODOS_MAX_CLIENT_BYTES="268435456",
        TODOS_DB_POOL_SIZE="4",
        TODOS_DB_POOL_TIMEOUT="10",
    )
    live.migrate(env)
    # As the recipe: collectstatic's hashed, compressed files (a few seconds).
    env.update({k: str(v) for k, v in live.collect_static(tmp_path / "static").items()})
    daphnes = [
        Daphne(env, live.free_port(), tmp_path / f"daphne-{i}.log")
        for i in range(PROCESSES)
    ]
    conf = render_nginx(tmp_path, nginx_port, [d.port for d in daphnes])
    proxy = None
    try:
        for daphne in daphnes:
            daphne.start()
        proxy = subprocess.Popen(
            [nginx, "-p", str(tmp_path), "-c", str(conf), "-g",
             f"daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;"],
            stdout=open(tmp_path / "nginx.out", "ab"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        live.wait_for_port(nginx_port, process=proxy)
        yield {
            "url": f"http://127.0.0.1:{nginx_port}",
            "daphnes": daphnes,
            "redis": redis,
            "tmp": tmp_path,
        }
    finally:
        if proxy and proxy.poll() is None:
            proxy.terminate()
            proxy.wait(10)
        for daphne in daphnes:
            daphne.stop()
        redis.stop()


def test_nginx_serves_pages_static_files_and_probes(deployment):
    url = deployment["url"]
    assert get(f"{url}/readyz")[0] == 200
    status, body = get(f"{url}/")
    assert status == 200
    match = re.search(rb'src="(/static/[^"]+\.js)"', body)
    assert match, body[:500]
    assert get(url + match.group(1).decode())[0] == 200


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "restart_redis",
    [False, True],
    ids=["daphne-killed", "daphne-killed-then-redis-restarted"],
)
def test_edits_survive_a_killed_process_and_a_redis_restart(deployment, restart_redis):
    url, daphnes, redis = deployment["url"], deployment["daphnes"], deployment["redis"]
    doc = "deployment-" + os.urandom(6).hex()
    clients = subprocess.Popen(
        ["node", str(CLIENTS), "--url", url, "--doc", doc,
         "--writers", "15", "--listeners", "15", "--http-writers", "3",
         "--interval", "500", "--seconds", "20"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=open(deployment["tmp"] / "clients.err", "w"),
        text=True,
    )  # fmt: skip
    try:
        ready = json.loads(clients.stdout.readline() or "{}")
        assert ready.get("event") == "ready", "the clients did not start"
        time.sleep(4)
        # A crash, then the rolling restart of that process.
        daphnes[0].kill()
        clients.stdin.write("mark daphne-killed\n")
        clients.stdin.flush()
        time.sleep(1)
        daphnes[0].start()
        time.sleep(3)
        if restart_redis:
            redis.stop()
            clients.stdin.write("mark redis-down\n")
            clients.stdin.flush()
            time.sleep(1)
            redis.start()
        clients.stdin.write("mark redis-up\n")
        clients.stdin.flush()
        out, _ = clients.communicate(timeout=180)
    finally:
        if clients.poll() is None:
            clients.kill()
    assert clients.returncode == 0, out
    report = json.loads(out.strip().splitlines()[-1])
    print_figures(report)

    assert report["acknowledged"] > 0.8 * report["authored"], report["http"]
    incomplete = [c for c in report["clients"] if c["missingCount"]]
    assert not incomplete, incomplete[:3]
    # Every client whose socket closed under it reconnected by itself.
    closed = [c for c in report["clients"] if c["closes"]]
    assert closed, "killing a Daphne process closed no socket"
    for client in closed:
        assert len(client["reconnectMs"]) == len(client["closes"]), client
    # Pushes resumed within 5 s of Redis coming back, on every socket.
    late = {
        c["name"]: c["firstPushAfter"]["redis-up"]
        for c in report["clients"]
        if c["firstPushAfter"]["redis-up"] is None
        or c["firstPushAfter"]["redis-up"] > 5000
    }
    assert not late, late
    if restart_redis:
        # Every edit after the restart came by push: the sockets were back in
        # their groups (todo_site/channel_layer.py), none needed the clients'
        # last-resort reconnect to converge.
        resynced = {c["name"]: c["resyncs"] for c in report["clients"] if c["resyncs"]}
        assert not resynced, resynced
        # No consumer died of a Redis timeout or the dropped connection.
        for daphne in daphnes:
            log = daphne.log_path.read_text()
            assert "Timeout reading from" not in log
            assert "Exception inside application" not in log
    # nginx spread the sockets and the HTTP writes over every process.
    log = (deployment["tmp"] / "access.log").read_text().splitlines()
    for daphne in daphnes:
        upstream = f"127.0.0.1:{daphne.port}"
        assert any(line.startswith("GET /ws/") and upstream in line for line in log)
        assert any(line.startswith("POST /docs/") and upstream in line for line in log)


def print_figures(report):
    resumed = sorted(
        c["firstPushAfter"]["redis-up"]
        for c in report["clients"]
        if c["firstPushAfter"]["redis-up"] is not None
    )
    print(
        f"\ndeployment: {report['acknowledged']}/{report['authored']} edits "
        f"acknowledged in {report['writeSeconds']:.1f} s "
        f"({report['writesPerSecond']:.1f} writes/s); "
        f"push p50 {report['push']['p50']} ms, p99 {report['push']['p99']} ms "
        f"({report['push']['count']} pushes); "
        f"ack p50 {report['ack']['p50']} ms, p99 {report['ack']['p99']} ms; "
        f"{report['reconnect']['count']} reconnects, p50 {report['reconnect']['p50']} "
        f"ms, max {report['reconnect']['max']} ms; first push after the redis-up mark: "
        f"median {resumed[len(resumed) // 2] if resumed else None} ms, "
        f"max {resumed[-1] if resumed else None} ms; "
        f"resyncs {sum(c['resyncs'] for c in report['clients'])}"
    )
