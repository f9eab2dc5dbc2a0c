"""A list made in the browser app syncs live with an automerge-repo client.

Chromium opens the site root, which makes a new list with an id made in the
browser; an unmodified automerge-repo 2.x Repo (tests/node/repo_clients.mjs)
finds it by that id at /automerge-repo; each then sees the other's edit live.
"""

import json
import subprocess

from tests.conftest import ROOT

REPO_CLIENTS = ROOT / "tests" / "node" / "repo_clients.mjs"


def test_a_list_made_in_the_browser_syncs_live_with_a_repo(new_app, shared_server):
    tab = new_app().open_home(shared_server.url)
    tab.add("from the tab")
    tab.expect_saved()

    repo = subprocess.Popen(
        [
            "node",
            str(REPO_CLIENTS),
            "edit",
            f"{shared_server.ws_url}/automerge-repo",
            tab.doc_id,
            "from a repo",
            "from the tab, later",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        found = repo.stdout.readline().decode()
        assert found == 'found ["from the tab"]\n', repo.stderr.read(2000)
        tab.expect_synced_items(["from the tab", "from a repo"])
        tab.add("from the tab, later")
        output, errors = repo.communicate(timeout=60)
    finally:
        repo.kill()
    report = json.loads(output)

    assert report["arrived"], errors.decode()
    assert report["items"] == ["from a repo", "from the tab", "from the tab, later"]
    tab.expect_synced_items(["from the tab", "from a repo", "from the tab, later"])
