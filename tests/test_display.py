"""todos.display: decoding stored documents for people, summaries and history.

Documents are made by the real Automerge in Node (tests/node/make_docs.mjs); the
``documents`` fixture and ``store`` helper are shared with the admin, JSON view and
command tests, which import them from here.
"""

import functools
import hashlib
import json
import tempfile
from pathlib import Path

import pytest

from tests.conftest import run_node
from todos import display, storage
from todos.models import Chunk, Document

MAKE_DOCS = Path(__file__).resolve().parent / "node" / "make_docs.mjs"


class Documents(dict):
    """File name -> bytes, of what make_docs.mjs wrote; ``manifest`` describes them."""

    manifest: dict


@functools.cache
def made_documents():
    """The test documents, made once per test run by the real Automerge in Node."""
    with tempfile.TemporaryDirectory(prefix="todos-docs-") as out:
        run_node(MAKE_DOCS, out)
        made = Documents(
            (path.name.removesuffix(".automerge"), path.read_bytes())
            for path in Path(out).glob("*.automerge")
        )
        made.manifest = json.loads((Path(out) / "manifest.json").read_text())
    return made


@pytest.fixture(scope="module")
def documents():
    """The test documents (see ``made_documents``)."""
    return made_documents()


def store(doc_id, *uploads):
    """Write each upload through the storage service; return the last WriteResult."""
    result = None
    for upload in uploads:
        result = storage.write_document(doc_id, upload)
    return result


def store_raw(doc_id, data, kind=Chunk.DOCUMENT):
    """Store bytes as one chunk, bypassing the service (as disk corruption would)."""
    document = Document.objects.create(
        doc_id=doc_id,
        size=len(data),
        chunk_count=1,
        change_count=1,
        clock={"aa" * 16: 1},
        etag=storage.etag_of([hashlib.sha256(data).hexdigest()]),
    )
    Chunk.objects.create(
        document=document,
        position=0,
        kind=kind,
        data=data,
        size=len(data),
        digest=hashlib.sha256(data).hexdigest(),
        clock={"aa" * 16: 1},
        change_count=1,
        heads=[],
    )
    return document


def corrupted(data):
    """``data`` with one byte of its body flipped, so its checksum no longer holds."""
    broken = bytearray(data)
    broken[-3] ^= 0xFF
    return bytes(broken)


# to_text and plain


def test_to_text_joins_one_character_strings():
    assert display.to_text(["m", "i", "l", "k"]) == "milk"


def test_to_text_keeps_emoji_and_joiners_in_order():
    parts = ["🎉", "👩", "\u200d", "👧", " ", "é"]

    assert display.to_text(parts) == "🎉👩\u200d👧 é"


def test_to_text_accepts_a_plain_string_and_none():
    assert display.to_text("already text") == "already text"
    assert display.to_text(None) == ""


def test_to_text_marks_embedded_objects():
    assert display.to_text(["a", {"type": "paragraph"}, "b"]) == "a\ufffcb"


def test_plain_joins_texts_inside_nested_documents():
    decoded = {"items": [{"text": ["h", "i"], "done": True}], "tags": [], "n": 3}

    assert display.plain(decoded) == {
        "items": [{"text": "hi", "done": True}],
        "tags": [],
        "n": 3,
    }


def test_normalise_tolerates_documents_outside_the_schema():
    title, items = display.normalise({"items": [["x"], {"done": 1}], "title": 7})

    assert title == "7"
    assert items == [
        {"text": "x", "done": False},
        {"text": "", "done": False},
    ]


def test_normalise_of_a_document_without_items_is_an_empty_list():
    assert display.normalise({}) == (None, [])


# decode


@pytest.mark.parametrize("name", ["simple", "unicode", "untitled", "concurrent"])
def test_decode_reads_what_automerge_wrote(documents, name):
    snapshot = display.decode(documents[name])

    expected = documents.manifest[name]
    assert snapshot.error is None and snapshot.note is None
    assert snapshot.title == expected["title"]
    assert snapshot.items == expected["items"]


def test_decode_keeps_non_ascii_and_emoji_text(documents):
    snapshot = display.decode(documents["unicode"])

    assert snapshot.title == "Żółć – café ☕"
    assert snapshot.items[2]["text"] == "🚀 party 🎉👩\u200d👩\u200d👧 done"
    assert snapshot.document["items"][1]["text"] == "日本語のテキスト"


def test_decode_counts_items_and_done_items(documents):
    snapshot = display.decode(documents["simple"])

    assert (snapshot.item_count, snapshot.done_count) == (3, 1)


def test_decode_gives_the_time_of_the_latest_change(documents):
    snapshot = display.decode(documents["concurrent"])

    assert snapshot.last_change_at is not None
    assert snapshot.last_change_at.year >= 2024


def test_decode_of_corrupted_bytes_says_they_are_not_automerge(documents):
    snapshot = display.decode(corrupted(documents["simple"]))

    assert snapshot.error.startswith("The stored bytes are not valid Automerge data")
    assert "checksum" in snapshot.error.lower()
    assert snapshot.item_count is None


def test_decode_of_a_change_without_its_dependency_says_why(documents):
    snapshot = display.decode(documents["orphan_change"])

    assert snapshot.error.startswith("The automerge package could not decode")
    assert "deps" in snapshot.error


def test_decode_of_nothing_is_an_empty_list():
    snapshot = display.decode(b"")

    assert (snapshot.title, snapshot.items, snapshot.error) == (None, [], None)


def test_decode_of_overlapping_saves_shows_the_largest_and_says_what_is_left_out(
    documents,
):
    # Two clients' full saves share their first change; the automerge package
    # would apply it twice and show the wrong list, so one save is left out.
    data = documents["concurrent.save0"] + documents["concurrent.save1"]

    snapshot = display.decode(data)

    assert snapshot.error is None
    assert "leaves out 1 of 3 changes" in snapshot.note
    assert snapshot.items == [
        {"text": "plan trip", "done": True},
        {"text": "book hotel", "done": False},
    ]


# read_snapshot and the stored summary


@pytest.mark.django_db
def test_read_snapshot_stores_the_summary_without_touching_updated_at(documents):
    store("groceries", documents["simple"])
    before = Document.objects.get(pk="groceries")

    stored, snapshot = display.read_snapshot("groceries")

    after = Document.objects.get(pk="groceries")
    assert snapshot.title == "Groceries"
    assert (after.title, after.item_count, after.done_count) == ("Groceries", 3, 1)
    assert after.summary_etag == after.etag == stored.etag
    assert after.last_change_at == snapshot.last_change_at
    assert after.updated_at == before.updated_at


@pytest.mark.django_db
def test_summary_goes_stale_on_write_and_is_refreshed_on_read(documents):
    store("trip", documents["simple"])
    display.read_snapshot("trip")

    store("trip", documents["unicode"])
    stale = Document.objects.get(pk="trip")
    assert stale.summary_etag != stale.etag
    assert stale.title == "Groceries"
    display.read_snapshot("trip")

    fresh = Document.objects.get(pk="trip")
    assert fresh.summary_etag == fresh.etag


@pytest.mark.django_db
def test_concurrent_saves_show_partly_and_say_so(documents):
    # Each client uploads its full save; the server keeps both (neither contains
    # the other), and the display leaves one out rather than show a wrong list.
    store("trip", documents["concurrent.save0"], documents["concurrent.save1"])
    assert Document.objects.get(pk="trip").chunk_count == 2

    _, snapshot = display.read_snapshot("trip")

    assert "leaves out 1 of 3 changes" in snapshot.note
    assert snapshot.items == [
        {"text": "plan trip", "done": True},
        {"text": "book hotel", "done": False},
    ]


@pytest.mark.django_db
def test_a_merged_save_compacts_concurrent_saves_and_shows_everything(documents):
    store("trip", documents["concurrent.save0"], documents["concurrent.save1"])
    display.read_snapshot("trip")

    store("trip", documents["concurrent"])
    _, snapshot = display.read_snapshot("trip")

    assert Document.objects.get(pk="trip").chunk_count == 1
    assert snapshot.note is None
    assert snapshot.items == documents.manifest["concurrent"]["items"]


@pytest.mark.django_db
def test_a_concurrent_change_uploaded_alone_shows_both_sides(documents):
    store("trip", documents["concurrent.save0"], documents["concurrent.change_b"])

    _, snapshot = display.read_snapshot("trip")

    assert snapshot.note is None
    assert snapshot.items == documents.manifest["concurrent"]["items"]


@pytest.mark.django_db
def test_merged_save_of_concurrent_edits_shows_both_sides(documents):
    store("trip", documents["concurrent"])

    _, snapshot = display.read_snapshot("trip")

    assert snapshot.note is None
    assert snapshot.items == documents.manifest["concurrent"]["items"]
    row = Document.objects.get(pk="trip")
    assert (row.title, row.item_count, row.done_count) == ("Shared", 3, 1)


@pytest.mark.django_db
def test_summary_is_not_written_for_bytes_a_write_has_replaced(documents):
    store("groceries", documents["simple"])
    old = storage.read_document("groceries")
    store("groceries", documents["unicode"])

    display.refresh_summary("groceries", old.etag, display.decode(old.data))

    assert Document.objects.get(pk="groceries").summary_etag == ""


@pytest.mark.django_db
def test_undecodable_document_gets_an_empty_summary_marked_current(documents):
    store_raw("broken", corrupted(documents["simple"]))

    _, snapshot = display.read_snapshot("broken")

    row = Document.objects.get(pk="broken")
    assert snapshot.error
    assert row.summary_etag == row.etag and row.item_count is None


def test_read_snapshot_of_a_missing_document_is_none(db):
    assert display.read_snapshot("nothing-here") is None


# history


def test_history_lists_each_change_of_a_document_chunk(documents):
    history = display.history([(0, documents["concurrent"])])

    (chunk,) = history.chunks
    assert chunk.kind == "document" and chunk.size == len(documents["concurrent"])
    assert history.total == 3
    assert sorted((c.actor[:2], c.seq) for c in chunk.changes) == [
        ("aa", 1),
        ("aa", 2),
        ("bb", 1),
    ]
    messages = {c.message for c in chunk.changes}
    assert {"A adds", "B adds"} <= messages
    b_change = next(c for c in chunk.changes if c.actor.startswith("bb"))
    assert b_change.deps == ["aaaaaaaa:1"]


def test_history_gives_change_chunks_their_size_hash_and_named_deps(documents):
    chunks = [(0, documents["concurrent.save0"]), (3, documents["concurrent.change_b"])]

    history = display.history(chunks)

    assert [c.position for c in history.chunks] == [0, 3]
    (change,) = history.chunks[1].changes
    assert (change.actor[:2], change.seq, change.message) == ("bb", 1, "B adds")
    assert change.size == len(documents["concurrent.change_b"])
    assert len(change.hash) == 64
    assert change.time is not None
    # A:1 is inside the document chunk, not one of its heads: its hash is unknown.
    (dep,) = change.deps
    assert len(dep) == 12


def test_history_names_a_dependency_on_a_known_change(documents):
    chunks = [
        (0, documents["concurrent.change_a1"]),
        (1, documents["concurrent.change_b"]),
    ]

    history = display.history(chunks)

    assert history.chunks[1].changes[0].deps == ["aaaaaaaa:1"]


def test_history_names_a_chunk_it_cannot_parse(documents):
    history = display.history([(0, corrupted(documents["simple"]))])

    (chunk,) = history.chunks
    assert chunk.kind == "unreadable" and "checksum" in chunk.error.lower()


def test_history_lists_only_the_latest_changes(documents):
    history = display.history([(0, documents["concurrent"])], limit=2)

    assert history.total == 3 and history.omitted == 1
    assert len(history.chunks[0].changes) == 2


def test_change_time_zero_is_unknown():
    assert display.change_time(0) is None
    assert display.change_time(10**30) is None
    assert display.change_time(86400).isoformat() == "1970-01-02T00:00:00+00:00"


def test_change_total_counts_distinct_changes():
    assert display.change_total({"aa": 2, "bb": 1}) == 3
