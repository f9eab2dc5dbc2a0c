"""todos.display.changelog: the per-change history of stored chunks."""

from pathlib import Path

from tests.display.documents import corrupted
from todos import display

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


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
    # A:1 is inside the document chunk; the engine names it.
    assert change.deps == ["aaaaaaaa:1"]
    saved = history.chunks[0].changes
    assert ("aa", 1) in {(c.actor[:2], c.seq) for c in saved}
    assert all(c.size is None and len(c.hash) == 64 for c in saved)
    assert change.hash not in {c.hash for c in saved}


def test_history_shows_an_unknown_dependency_as_a_short_hash(documents):
    history = display.history([(0, documents["orphan_change"])])

    (chunk,) = history.chunks
    (dep,) = chunk.changes[0].deps
    assert chunk.kind == "change" and len(dep) == 12


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


def test_history_says_why_the_changes_of_a_save_cannot_be_listed():
    # A save Automerge cannot load (an op ID repeated), then a change on it.
    broken = (FIXTURES / "repeated_op_id.automerge").read_bytes()

    history = display.history([(0, broken)])

    document, change = history.chunks
    assert document.kind == "document" and document.changes == []
    assert "Automerge could not load it" in document.error
    assert change.kind == "change" and len(change.changes) == 1


def test_history_lists_only_the_latest_changes(documents):
    history = display.history([(0, documents["concurrent"])], limit=2)

    assert history.total == 3 and history.omitted == 1
    assert len(history.chunks[0].changes) == 2
