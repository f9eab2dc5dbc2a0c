"""Browser fixtures: one headless Chromium per session, a fresh context per device.

Chromium is Debian's (/usr/bin/chromium, which .ci/run installs), driven by the
Playwright package with ``executable_path``; ``playwright install`` is never used.
Without it the browser tests skip, unless TODOS_REQUIRE_SERVICES=1 (CI), where
they fail.
"""

import os
from pathlib import Path

import pytest

from tests import live, services
from tests.e2e.pages import TodoApp

CHROMIUM = Path(os.environ.get("TODOS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="package")
def browser():
    """Headless Chromium for the browser tests, closed when they are done.

    Package scope, not session: while Playwright's sync API is open, the main thread
    counts as running an event loop, so every later test that runs one there
    (asyncio.run, pytest-asyncio) would fail with "cannot be called from a running
    event loop".
    """
    if not CHROMIUM.exists():
        reason = f"Chromium is not installed at {CHROMIUM}: apt-get install chromium"
        if services.required():
            pytest.fail(f"TODOS_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory):
    """collectstatic's output for this session; server_env kwargs that serve it."""
    return live.collect_static(tmp_path_factory.mktemp("staticfiles"))


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory, collected_static):
    """One Daphne server for the tests that never stop it (each uses a new list).

    It serves collected static files (hashed names), as `make run` does.
    """
    directory = tmp_path_factory.mktemp("e2e-server")
    env = live.server_env(sqlite_path=directory / "db.sqlite3", **collected_static)
    live.migrate(env)
    server = live.LiveServer(env, log_path=directory / "daphne.log").start()
    yield server
    server.stop()


@pytest.fixture
def server(live_server_factory, collected_static):
    """A Daphne server of this test's own, which the test may stop and restart."""
    return live_server_factory(**collected_static)


@pytest.fixture
def new_context(browser):
    """Open a browser context (one device: its own storage); closed afterwards."""
    contexts = []

    def open_context():
        context = browser.new_context(viewport={"width": 900, "height": 800})
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


@pytest.fixture
def new_app(new_context):
    """``new_app(context=None)``: a TodoApp on a new page (of a new context if None)."""

    def open_app(context=None):
        return TodoApp((context or new_context()).new_page())

    return open_app


@pytest.fixture
def app(new_app, shared_server):
    """The app on a new list of the shared server, loaded and ready."""
    todo_app = new_app()
    todo_app.start_new_list(shared_server.url)
    yield todo_app
    assert todo_app.errors == [], f"JavaScript errors on the page: {todo_app.errors}"
