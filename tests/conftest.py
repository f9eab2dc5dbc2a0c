"""Shared fixtures: Node scripts, live Daphne servers, PostgreSQL and Redis."""

import subprocess
from pathlib import Path

import pytest

from tests import live, services

ROOT = Path(__file__).resolve().parent.parent


def require_service(name):
    """Skip (or, when services are required, fail) unless service ``name`` answers."""
    reason = services.unavailable_reason(name)
    if reason is None:
        return services.service_url(name)
    if services.required():
        pytest.fail(f"TODOS_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def run_node(script, *args, input=None, timeout=300, check=True):
    """Run a Node script from the repository root; return the CompletedProcess."""
    return subprocess.run(
        ["node", str(script), *map(str, args)],
        cwd=ROOT,
        input=input,
        capture_output=True,
        timeout=timeout,
        check=check,
    )


@pytest.fixture(autouse=True)
def compact_in_the_test(settings):
    """Compact at once, in the test's thread: a background thread's own database
    connection would contend with the test's (an in-memory SQLite database)."""
    settings.TODOS_COMPACT_IN_BACKGROUND = False


@pytest.fixture(autouse=True)
def no_kept_request_threads():
    """End the kept request threads (todo_site/asgi_handler.py) after each test,
    with the database connections they hold: a later test may not allow them."""
    yield
    from todo_site import asgi_handler

    asgi_handler.stop_request_threads()


@pytest.fixture(scope="session")
def postgres_url():
    """The PostgreSQL server URL for multi-process tests."""
    return require_service("postgres")


@pytest.fixture(scope="session")
def redis_url():
    """The Redis URL for multi-process tests."""
    return require_service("redis")


@pytest.fixture
def live_server_factory(tmp_path):
    """Start Daphne servers: ``factory(**server_env kwargs)``; stopped afterwards."""
    servers = []

    def start(**env_kwargs):
        if "database_url" not in env_kwargs and "sqlite_path" not in env_kwargs:
            env_kwargs["sqlite_path"] = tmp_path / "live.sqlite3"
        env = live.server_env(**env_kwargs)
        live.migrate(env)
        server = live.LiveServer(env, log_path=tmp_path / f"daphne-{len(servers)}.log")
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def daphne_server(live_server_factory):
    """One Daphne process with its own SQLite database.

    Not named ``live_server``: pytest-django owns that name (its autouse helper
    would try to start its own server for it).
    """
    return live_server_factory()


@pytest.fixture
def postgres_database(postgres_url):
    """A fresh, empty PostgreSQL database (dropped afterwards); yields its URL."""
    database = live.PostgresDatabase(postgres_url)
    yield database.url
    database.drop()
