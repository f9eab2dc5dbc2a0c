"""todos.display.snapshot: decoding stored documents into what people read."""

import pytest

from tests.display.documents import corrupted
from todos import display

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

    assert snapshot.error.startswith("Automerge could not load")
    assert "checksum" in snapshot.error.lower()
    assert snapshot.item_count is None


def test_decode_of_a_change_without_its_dependency_says_why(documents):
    snapshot = display.decode(documents["orphan_change"])

    assert snapshot.error.startswith("Automerge could not load")
    assert "deps" in snapshot.error


def test_decode_of_nothing_is_an_empty_list():
    snapshot = display.decode(b"")

    assert (snapshot.title, snapshot.items, snapshot.error) == (None, [], None)


# change_time and change_total


def test_change_time_zero_is_unknown():
    assert display.change_time(0) is None
    assert display.change_time(10**30) is None
    assert display.change_time(86400).isoformat() == "1970-01-02T00:00:00+00:00"


def test_change_total_counts_distinct_changes():
    assert display.change_total({"aa": 2, "bb": 1}) == 3
