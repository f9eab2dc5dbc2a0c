"""Management commands: export_doc, import_doc and inspect_doc."""

import io
import json
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import ROOT
from tests.display.documents import corrupted, made_documents, store, store_raw
from todos import storage
from todos.models import Document

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def documents():
    return made_documents()


def run(*args):
    """Run a command; return what it printed."""
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# export_doc


def test_export_writes_what_get_returns(client, documents, tmp_path):
    store("trip", documents["concurrent.save0"], documents["concurrent.save1"])
    target = tmp_path / "trip.automerge"

    printed = run("export_doc", "trip", str(target))

    assert target.read_bytes() == client.get("/docs/trip").content
    assert f"Wrote {target.stat().st_size} bytes" in printed


def test_export_to_stdout_writes_the_bytes(documents):
    store("groceries", documents["simple"])
    binary = io.BytesIO()
    text = io.TextIOWrapper(binary)

    call_command("export_doc", "groceries", stdout=text)

    text.flush()
    assert binary.getvalue() == documents["simple"]


def test_export_of_a_missing_document_fails(tmp_path):
    with pytest.raises(CommandError, match="No document 'nothing-here'"):
        run("export_doc", "nothing-here", str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()


def test_export_of_an_invalid_id_fails(tmp_path):
    with pytest.raises(CommandError, match="Invalid document id"):
        run("export_doc", "../etc", str(tmp_path / "x"))


# import_doc


def test_import_merges_a_file_and_prints_the_result(documents, tmp_path):
    source = tmp_path / "party.automerge"
    source.write_bytes(documents["unicode"])

    result = json.loads(run("import_doc", "party", str(source)))

    assert result["changed"] is True and result["new_changes"] == 2
    assert storage.read_document("party").data == documents["unicode"]


def test_import_merges_into_what_is_stored(documents, tmp_path):
    store("trip", documents["concurrent.save0"])
    source = tmp_path / "b.automerge"
    source.write_bytes(documents["concurrent.save1"])

    result = json.loads(run("import_doc", "trip", str(source)))

    assert result["clock"] == {"aa" * 16: 2, "bb" * 16: 1}
    # Both saves' changes are kept, in one save of the merged list.
    assert storage.read_document("trip").data != documents["concurrent.save0"]


def test_import_of_what_is_stored_changes_nothing(documents, tmp_path):
    store("groceries", documents["simple"])
    source = tmp_path / "g.automerge"
    source.write_bytes(documents["simple"])

    result = json.loads(run("import_doc", "groceries", str(source)))

    assert result["changed"] is False


def test_import_of_a_corrupted_file_fails_and_stores_nothing(documents, tmp_path):
    source = tmp_path / "bad.automerge"
    source.write_bytes(corrupted(documents["simple"]))

    with pytest.raises(CommandError, match="not valid Automerge data"):
        run("import_doc", "groceries", str(source))
    assert not Document.objects.filter(pk="groceries").exists()


def test_import_of_a_change_without_its_dependencies_fails(documents, tmp_path):
    store("groceries", documents["simple"])
    source = tmp_path / "orphan.automerge"
    source.write_bytes(documents["orphan_change"])
    before = storage.read_document("groceries")

    with pytest.raises(CommandError):
        run("import_doc", "groceries", str(source))
    assert storage.read_document("groceries") == before


def test_import_of_a_missing_file_fails(tmp_path):
    with pytest.raises(CommandError, match="Could not read"):
        run("import_doc", "groceries", str(tmp_path / "absent.automerge"))


def test_import_failure_exits_non_zero_with_the_message_on_stderr(tmp_path):
    source = tmp_path / "empty.automerge"
    source.write_bytes(b"")

    done = subprocess.run(
        [sys.executable, "manage.py", "import_doc", "groceries", str(source)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "TODOS_SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        },
    )

    assert done.returncode != 0
    assert "The request body is empty" in done.stderr
    assert done.stdout == ""


# inspect_doc


def test_inspect_prints_items_size_chunks_and_clock(documents):
    store("trip", documents["concurrent.save0"], documents["concurrent.save1"])

    report = json.loads(run("inspect_doc", "trip"))

    assert report["doc_id"] == "trip"
    assert report["title"] == "Shared"
    assert report["size"] == len(storage.read_document("trip").data)
    assert report["clock"] == {"aa" * 16: 2, "bb" * 16: 1}
    assert report["changes"] == 3
    # The second save is merged: one save of the list holds all three changes.
    assert [c["kind"] for c in report["chunks"]] == ["document"]
    assert [c["change_count"] for c in report["chunks"]] == [3]
    assert report["note"] is None
    assert len(report["heads"]) == 2


def test_inspect_of_concurrent_edits_lists_every_item(documents):
    store("trip", documents["concurrent"])

    report = json.loads(run("inspect_doc", "trip"))

    assert report["items"] == documents.manifest["concurrent"]["items"]
    assert (report["item_count"], report["done_count"]) == (3, 1)
    assert report["error"] is None


def test_inspect_prints_non_ascii_text_as_it_is(documents):
    store("party", documents["unicode"])

    printed = run("inspect_doc", "party")

    assert "Żółć – café ☕" in printed
    assert json.loads(printed)["items"] == documents.manifest["unicode"]["items"]


def test_inspect_of_an_undecodable_document_says_why(documents):
    store_raw("broken", corrupted(documents["simple"]))

    report = json.loads(run("inspect_doc", "broken"))

    assert "Automerge could not load" in report["error"]
    assert report["items"] == [] and report["item_count"] is None
    assert report["chunks"][0]["size"] == len(documents["simple"])


def test_inspect_of_a_missing_document_fails():
    with pytest.raises(CommandError, match="No document 'nothing-here'"):
        run("inspect_doc", "nothing-here")
