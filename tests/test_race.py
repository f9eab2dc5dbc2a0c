"""Many real Automerge clients upload diverging documents at once; no edit is lost.

Each race runs ``tests/node/race_clients.mjs``: at least 16 clients, each with its
own document and actor, start at the same moment and push uniquely named items
(marking their previous item done), uploading full saves, incremental changes (with
some uploads "lost on the way", so the next one is answered 409 and replaced by a
full save), or both. Afterwards the stored document is fetched, loaded with the
real ``@automerge/automerge`` and searched for every edit. The same race against the
tutorial's overwriting file server (``benchmarks/tutorial_server.mjs``) loses
edits, which shows the race is real. Performance is measured in ``benchmarks/``,
never here.
"""

import json
import secrets
import subprocess
from pathlib import Path

import pytest

from tests import live
from tests.conftest import run_node

ROOT = Path(__file__).resolve().parent.parent
RACE_CLIENTS = ROOT / "tests" / "node" / "race_clients.mjs"
TUTORIAL_SERVER = ROOT / "benchmarks" / "tutorial_server.mjs"
CLIENTS = 16
ROUNDS = 16
OVERWRITE_ATTEMPTS = 3

pytestmark = pytest.mark.live


def run_race(urls, mode="mixed", start="base", compact=False, **options):
    """Run one race of CLIENTS clients against ``urls``; return the JSON report."""
    doc_id = f"race-{mode}-{start}-{secrets.token_hex(4)}"
    args = [
        "--urls",
        ",".join(urls),
        "--doc",
        doc_id,
        "--clients",
        options.get("clients", CLIENTS),
        "--rounds",
        options.get("rounds", ROUNDS),
        "--mode",
        mode,
        "--start",
        start,
        "--refetch-every",
        options.get("refetch_every", 4),
        "--drop-every",
        options.get("drop_every", 5),
    ]
    if compact:
        args.append("--compact")
    result = run_node(RACE_CLIENTS, *args, timeout=120, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return json.loads(result.stdout)


def docs_urls(*servers):
    """The document base URL (``.../docs/``) of each Daphne server."""
    return [f"{server.url}/docs/" for server in servers]


def assert_no_edit_lost(report):
    """Every upload was answered as expected and every edit is in every GET."""
    stats = report["stats"]
    assert stats["errors"] == []
    # Most clients had an upload at the server at the same moment.
    assert stats["maxUploadsInFlight"] >= report["options"]["clients"] // 2, stats
    assert set(stats["statuses"]) <= {"200", "409"}, stats["statuses"]
    assert stats["statuses"].get("409", 0) == stats["fallbacks"] == stats["dropped"]
    for check in report["checks"]:
        assert check["found"], check
        assert check["missingDeps"] == 0, check
        assert check["missing"] == [] and check["missingCount"] == 0, check
        assert check["notDone"] == [] and check["notDoneCount"] == 0, check
        assert check["items"] == report["expectedItems"], check
    assert report["sameEverywhere"], report["checks"]


def assert_reupload_changes_nothing(report):
    """Re-uploading what GET returned adds nothing; the ack's heads are Automerge's."""
    compaction = report["compaction"]
    assert compaction["reuploadStatus"] == 200
    assert compaction["reuploadChanged"] is False
    assert compaction["reuploadHeadsMatch"], compaction


def assert_a_save_changes_nothing(report):
    """A save() of the merged state adds nothing, and what is served loads the same."""
    compaction = report["compaction"]
    assert compaction["saveStatus"] == 200
    assert compaction["saveChanged"] is False, compaction
    assert compaction["saveHeadsMatch"], compaction
    assert compaction["againStatus"] == 200
    assert compaction["againChanged"] is False
    assert compaction["afterHeadsMatch"], compaction


@pytest.mark.parametrize("mode", ["save", "incremental", "mixed"])
def test_concurrent_uploads_lose_no_edit(daphne_server, mode):
    report = run_race(docs_urls(daphne_server), mode=mode, compact=True)

    assert_no_edit_lost(report)
    if mode != "save":
        assert report["stats"]["fallbacks"] > 0, "no 409 fallback was exercised"
    assert_reupload_changes_nothing(report)
    assert_a_save_changes_nothing(report)


def test_full_saves_replace_each_other_so_storage_stays_bounded(daphne_server):
    # Each client's save() contains its previous one, which it therefore replaces:
    # at most one document chunk per client remains, however many rounds are played.
    report = run_race(docs_urls(daphne_server), mode="save", compact=True)

    assert_no_edit_lost(report)
    assert report["compaction"]["reuploadChunks"] <= CLIENTS


def test_the_server_compacts_while_clients_race(daphne_server):
    # Only incremental uploads and none lost: each write appends one chunk, and
    # the server compacts them in the background as they pass the threshold
    # (TODOS_COMPACT_AFTER_CHUNKS, 32), so far fewer than one chunk per change
    # are stored when the race ends.
    report = run_race(
        docs_urls(daphne_server), mode="incremental", drop_every=0, compact=True
    )

    assert_no_edit_lost(report)
    assert report["compaction"]["reuploadChunks"] < (1 + CLIENTS * ROUNDS) // 4
    assert_a_save_changes_nothing(report)


def test_clients_starting_from_scratch_keep_every_list_as_a_conflict(daphne_server):
    # Every client creates its own `items` list on the root: Automerge shows one of
    # them and keeps the others as conflicting values of `items`. Nothing is lost,
    # but most items are hidden, which is why the app starts from one base document.
    report = run_race(
        docs_urls(daphne_server), mode="mixed", start="scratch", compact=True
    )

    assert_no_edit_lost(report)
    check = report["checks"][0]
    assert check["itemLists"] == CLIENTS
    assert check["visibleItems"] < report["expectedItems"]
    assert_a_save_changes_nothing(report)


@pytest.mark.postgres
@pytest.mark.parametrize("start", ["base", "scratch"])
def test_two_servers_sharing_postgres_lose_no_edit(
    postgres_database, live_server_factory, start
):
    # From scratch, the clients' first uploads also race to create the document.
    first = live_server_factory(database_url=postgres_database)
    second = live_server_factory(database_url=postgres_database)

    report = run_race(docs_urls(first, second), mode="mixed", start=start, compact=True)

    assert len(report["checks"]) == 2
    assert_no_edit_lost(report)
    assert_reupload_changes_nothing(report)
    assert_a_save_changes_nothing(report)


@pytest.fixture
def tutorial_server(tmp_path):
    """Start the tutorial's file server: ``start(merge=False)`` returns its URL."""
    processes = []

    def start(merge=False):
        port = live.free_port()
        command = ["node", str(TUTORIAL_SERVER), "--port", str(port)]
        command += ["--data", str(tmp_path / f"data-{len(processes)}")]
        if merge:
            command.append("--merge")
        log = open(tmp_path / f"tutorial-{len(processes)}.log", "ab")
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        processes.append((process, log))
        live.wait_for_port(port, process=process)
        return f"http://127.0.0.1:{port}/"

    yield start
    for process, log in processes:
        process.terminate()
        process.wait(10)
        log.close()


def test_overwriting_tutorial_server_loses_edits(tutorial_server):
    url = tutorial_server()

    for _ in range(OVERWRITE_ATTEMPTS):
        report = run_race([url], mode="save")
        lost = report["checks"][0]["missingCount"]
        if lost > 0:
            break

    assert report["stats"]["errors"] == []
    # The last upload overwrote the others: only edits its client had seen remain.
    assert lost > 0
    assert report["checks"][0]["items"] < report["expectedItems"]


def test_merging_tutorial_server_keeps_every_edit(tutorial_server):
    url = tutorial_server(merge=True)

    report = run_race([url], mode="save")

    assert_no_edit_lost(report)
