"""A first visit is small and a second one downloads no wasm (issue 15, items 4, 5).

Each server runs as an operator would: `make run`'s (DEBUG on, collected static
files) and the README's production recipe (DEBUG off). Bytes are deterministic,
so they are asserted here; times are the benchmark's (benchmarks/cold_load.py).
"""

import re

import pytest

from tests import live
from tests.helpers import coldload

pytestmark = [pytest.mark.browser, pytest.mark.live]

MAX_COLD_BYTES = 1_500_000
ONE_YEAR = 365 * 24 * 60 * 60
HASHED_WASM = re.compile(r"/static/vendor/automerge/automerge\.[0-9a-f]{12}\.wasm$")
LIST_PATH = "/lists/cold-load-test-list-0123456789/"
# DEBUG off, over plain HTTP (the recipe's proxy would terminate TLS).
PRODUCTION = {
    "DJANGO_DEBUG": 0,
    "DJANGO_SECRET_KEY": "cold-load-test-key-" + "x" * 40,
    "DJANGO_SECURE_SSL_REDIRECT": 0,
    "DJANGO_HSTS_SECONDS": 0,
    "DJANGO_SECURE_COOKIES": 0,
}
MODES = {
    "make-run": {"TODOS_COLLECTED_STATIC": 1},
    "production": PRODUCTION,
}


@pytest.fixture(scope="module", params=sorted(MODES))
def visits(request, browser, tmp_path_factory):
    """(cold, repeat) visits of a list page on a server run in the given mode."""
    directory = tmp_path_factory.mktemp(f"cold-load-{request.param}")
    static = live.collect_static(directory / "staticfiles")
    env = live.server_env(
        sqlite_path=directory / "db.sqlite3", **{**static, **MODES[request.param]}
    )
    live.migrate(env)
    server = live.LiveServer(env, log_path=directory / "daphne.log").start()
    try:
        yield coldload.cold_and_repeat(browser, server.url + LIST_PATH)
    finally:
        server.stop()


def test_a_cold_load_transfers_at_most_1_5_mb(visits):
    cold, _ = visits
    assert 0 < cold.bytes <= MAX_COLD_BYTES


def test_the_wasm_is_downloaded_once_under_a_content_hashed_name(visits):
    cold, _ = visits
    assert [HASHED_WASM.search(url) is not None for url, _ in cold.wasm_responses] == [
        True
    ], cold.wasm_responses


def test_the_wasm_goes_out_brotli_compressed_to_a_browser_that_accepts_it(visits):
    cold, _ = visits
    (_, headers), *_ = cold.wasm_responses
    assert headers["content-encoding"] == "br"
    assert cold.wasm_bytes < 1_000_000  # 3.6 MB uncompressed


def test_the_wasm_may_be_cached_for_at_least_a_year_unchanged(visits):
    cold, _ = visits
    (_, headers), *_ = cold.wasm_responses
    directives = [d.strip() for d in headers["cache-control"].split(",")]
    assert "immutable" in directives
    (max_age,) = [int(d[8:]) for d in directives if d.startswith("max-age=")]
    assert max_age >= ONE_YEAR


def test_a_repeat_visit_downloads_no_wasm(visits):
    _, repeat = visits
    assert repeat.wasm_bytes == 0
    assert repeat.wasm_responses == []


def test_source_files_are_served_unhashed_and_uncached_for_editing(
    browser, live_server_factory
):
    """Without collected files (a developer's DEBUG server), the app still runs."""
    server = live_server_factory(TODOS_COLLECTED_STATIC=0)
    cold, _ = coldload.cold_and_repeat(browser, server.url + LIST_PATH)
    (url, headers), *_ = cold.wasm_responses
    assert url.endswith("/static/vendor/automerge/automerge.wasm")
    assert headers["cache-control"] == "max-age=0, public"


SHELL_KEYS = """async () => {
    const cache = await caches.open('todos-shell-v1');
    return (await cache.keys()).map((request) => new URL(request.url).pathname);
}"""


def test_the_offline_shell_forgets_static_files_of_older_versions(app):
    """Each version of a file has a new hashed URL; the ones replaced are deleted."""
    app.expect_offline_ready()
    stored = app.page.evaluate(SHELL_KEYS)
    assert any(HASHED_WASM.search(path) for path in stored), stored
    older = "/static/todos/app.000000000000.js"
    app.page.evaluate(
        """(url) => caches.open('todos-shell-v1')
            .then((cache) => cache.put(url, new Response('// an older version')))""",
        older,
    )
    assert older in app.page.evaluate(SHELL_KEYS)

    app.reload()
    app.expect_offline_ready()  # set once the shell is stored again
    assert sorted(app.page.evaluate(SHELL_KEYS)) == sorted(stored)
