"""automerge-repo 2.x clients sync with the server at /automerge-repo.

Unmodified ``@automerge/automerge-repo`` Repos with the WebSocket client adapter
(``tests/node/repo_clients.mjs``) run against live Daphne processes: one with
SQLite, and two sharing PostgreSQL and Redis.
"""

import json
import secrets
import urllib.request
from pathlib import Path

import pytest

from tests.automerge_node import run_script
from tests.conftest import run_node
from todos import repo_ids

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


LIST = """
import * as Automerge from '@automerge/automerge'
const doc = Automerge.from({
  title: 'Made in the app', items: [{ text: 'milk', done: false }],
})
const saved = Buffer.from(Automerge.save(doc)).toString('base64')
process.stdout.write(JSON.stringify({ saved }))
"""


def put_list(server, doc_id):
    saved = run_script(LIST)["saved"]
    request = urllib.request.Request(
        f"{server.url}/docs/{doc_id}",
        data=saved,
        method="PUT",
        headers={"Content-Type": "application/octet-stream"},
    )
    urllib.request.urlopen(request).close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def test_a_list_made_by_the_app_opens_in_a_repo_by_its_id(daphne_server):
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(f"{daphne_server.url}/new/")
    except urllib.error.HTTPError as redirect:
        doc_id = redirect.headers["Location"].split("/")[2]
    assert repo_ids.is_repo_document_id(doc_id)
    put_list(daphne_server, doc_id)

    report = run_clients("open", f"{daphne_server.ws_url}/automerge-repo", doc_id)

    assert report["found"], report
    assert report["doc"]["title"] == "Made in the app"
    assert report["doc"]["items"] == [{"text": "milk", "done": False}]


def test_an_older_list_id_is_not_a_repo_id(daphne_server):
    doc_id = secrets.token_urlsafe(18)  # how lists were named before
    put_list(daphne_server, doc_id)

    report = run_clients("open", f"{daphne_server.ws_url}/automerge-repo", doc_id)

    assert not repo_ids.is_repo_document_id(doc_id)
    assert not report["found"] and "Invalid" in report["error"]
