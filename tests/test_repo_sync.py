"""automerge-repo 2.x clients sync with the server at /automerge-repo.

Unmodified ``@automerge/automerge-repo`` Repos with the WebSocket client adapter
(``tests/node/repo_clients.mjs``) run against live Daphne processes: one with
SQLite, and two sharing PostgreSQL and Redis.
"""

import json
from pathlib import Path

import pytest

from tests.conftest import run_node

ROOT = Path(__file__).resolve().parent.parent
REPO_CLIENTS = ROOT / "tests" / "node" / "repo_clients.mjs"
EXPECTED = ["A, concurrent", "B, concurrent", "app, concurrent", "from repo A"]

pytestmark = pytest.mark.live


def run_clients(*args):
    result = run_node(REPO_CLIENTS, *args, timeout=120, check=False)
    assert result.returncode == 0 and result.stdout, result.stderr.decode()
    return json.loads(result.stdout)


def assert_converged(report):
    assert report["stored"] and report["foundByB"] == ["from repo A"]
    assert report["converged"], report
    assert report["a"] == report["b"] == report["app"] == EXPECTED
    assert report["heads"]["a"] == report["heads"]["b"] == report["heads"]["app"]


def test_two_repos_and_an_app_client_create_find_and_converge(daphne_server):
    repo_url = f"{daphne_server.ws_url}/automerge-repo"

    report = run_clients("converge", repo_url, repo_url, daphne_server.ws_url)

    assert_converged(report)


@pytest.mark.postgres
@pytest.mark.redis
def test_repos_on_two_daphne_processes_converge_through_redis(
    postgres_database, redis_url, live_server_factory
):
    one, two = (
        live_server_factory(database_url=postgres_database, redis_url=redis_url)
        for _ in range(2)
    )

    report = run_clients(
        "converge",
        f"{one.ws_url}/automerge-repo",
        f"{two.ws_url}/automerge-repo",
        two.ws_url,
    )

    assert_converged(report)
