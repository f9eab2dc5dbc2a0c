"""/healthz and /readyz: in-process, and against live Daphne processes.

The live tests run each check's failure for real: a server whose database was
never migrated, one whose channel layer is a Redis that is not there, one whose
PostgreSQL is not there.
"""

import json
import urllib.error
import urllib.request

import pytest
from django.db.migrations.executor import MigrationExecutor

from tests import live
from todo_site import health

pytestmark = pytest.mark.django_db

ALL_OK = {"database": "ok", "migrations": "ok", "channel_layer": "ok"}
NOBODY = "127.0.0.1:9"  # the discard port: nothing listens there


def test_healthz_says_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_readyz_says_ok_with_each_check(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": ALL_OK}


def test_probes_need_no_allowed_host_and_take_head(client):
    for path in ("/healthz", "/readyz", "/healthz/"):
        response = client.get(path, headers={"host": "10.1.2.3:8000"})
        assert response.status_code == 200, path
        assert client.head(path).status_code == 200
    assert client.post("/readyz").status_code == 405


@pytest.mark.parametrize("check", ["database", "migrations", "channel_layer"])
def test_a_failed_check_is_a_503_naming_it_and_nothing_more(
    client, monkeypatch, check, caplog
):
    def fail():
        raise RuntimeError("secret detail: password=hunter2 at 10.0.0.7")

    monkeypatch.setitem(health.CHECKS, check, fail)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {**ALL_OK, check: "failed"},
    }
    assert b"hunter2" not in response.content and b"10.0.0.7" not in response.content
    assert any("hunter2" in r.getMessage() for r in caplog.records)  # for operators
    assert client.get("/healthz").status_code == 200


def test_pending_migrations_fail_the_migration_check(monkeypatch):
    monkeypatch.setattr(
        MigrationExecutor, "migration_plan", lambda self, targets: [("x", False)]
    )

    with pytest.raises(RuntimeError):
        health.check_migrations()


def test_an_unreachable_channel_layer_fails_in_time(settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://{NOBODY}/0"]},
        }
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        with pytest.raises(Exception):  # noqa: B017 (refused, or timed out)
            health.check_channel_layer()
    finally:
        channel_layers.backends.clear()


# --- live ----------------------------------------------------------------------------


def get(url):
    """(status, JSON body) of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def start_unmigrated(tmp_path, **env_kwargs):
    """A Daphne process whose database was never migrated (or never reached)."""
    env = live.server_env(**env_kwargs)
    server = live.LiveServer(env, log_path=tmp_path / "unmigrated.log")
    return server.start()


@pytest.mark.live
def test_a_live_server_is_alive_and_ready(live_server_factory):
    server = live_server_factory()

    for _ in range(20):
        assert get(f"{server.url}/healthz") == (200, {"status": "ok"})
        assert get(f"{server.url}/readyz") == (200, {"status": "ok", "checks": ALL_OK})


@pytest.mark.live
def test_a_live_server_without_its_migrations_is_not_ready(tmp_path):
    server = start_unmigrated(tmp_path, sqlite_path=tmp_path / "empty.sqlite3")
    try:
        for _ in range(20):
            assert get(f"{server.url}/healthz")[0] == 200
            status, body = get(f"{server.url}/readyz")
            assert status == 503
            assert body["checks"] == {**ALL_OK, "migrations": "failed"}
    finally:
        server.stop()


@pytest.mark.live
def test_a_live_server_without_its_redis_is_not_ready(live_server_factory):
    server = live_server_factory(redis_url=f"redis://{NOBODY}/0")

    for _ in range(3):
        assert get(f"{server.url}/healthz")[0] == 200
        status, body = get(f"{server.url}/readyz")
        assert status == 503
        assert body == {
            "status": "unavailable",
            "checks": {**ALL_OK, "channel_layer": "failed"},
        }


@pytest.mark.live
def test_a_live_server_without_its_database_is_not_ready(tmp_path):
    server = start_unmigrated(tmp_path, database_url=f"postgres://todos@{NOBODY}/todos")
    try:
        assert get(f"{server.url}/healthz")[0] == 200
        status, body = get(f"{server.url}/readyz")
        assert status == 503
        assert body["checks"]["database"] == "failed"
        assert body["checks"]["channel_layer"] == "ok"
        assert "todos@" not in json.dumps(body)
    finally:
        server.stop()
    assert "Traceback" not in server.log_path.read_text()
