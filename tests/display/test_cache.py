"""todos.display.cache: reading documents for display, and their stored summary."""

import pytest

from tests.display.documents import corrupted, store, store_raw
from todos import display, storage
from todos.models import Document


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

    store("trip", documents["untitled"])
    stale = Document.objects.get(pk="trip")
    assert stale.summary_etag != stale.etag
    assert stale.title == "Groceries"
    display.read_snapshot("trip")

    fresh = Document.objects.get(pk="trip")
    assert fresh.summary_etag == fresh.etag


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
    store("groceries", documents["untitled"])

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


@pytest.mark.django_db
def test_a_snapshot_is_decoded_once_per_version_even_across_a_compaction(
    documents, monkeypatch
):
    from todos import engine
    from todos.storage import compaction

    store("shared", documents["concurrent.save0"])
    storage.write_document("shared", documents["concurrent.change_b"])
    first = display.read_snapshot("shared")[1]
    assert compaction.compact_document("shared")  # new bytes, same heads

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(engine, "decode", no_decoding)
    stored, again = display.read_snapshot("shared")

    assert again == first
    assert Document.objects.get(pk="shared").chunk_count == 1
