"""The storage service: merging uploads at the chunk level without losing an edit."""

import hashlib
from pathlib import Path

import pytest

from tests import automerge_node
from tests.helpers import attacks
from todos import engine, storage
from todos.automerge_format import parse_chunks
from todos.models import Chunk, Document

pytestmark = pytest.mark.django_db(transaction=True)

DOC = "groceries"


@pytest.fixture(scope="session")
def case(tmp_path_factory):
    """Byte strings of a two-device editing session made by the real Automerge."""
    return automerge_node.make_scenario(tmp_path_factory.mktemp("scenario"))


def document_heads():
    return sorted(Document.objects.get(doc_id=DOC).heads)


def stored():
    return storage.read_document(DOC).data


def items(data):
    return sorted(item["text"] for item in automerge_node.inspect(data)["doc"]["items"])


def test_first_upload_is_stored_as_sent(case):
    result = storage.write_document(DOC, case["base"])

    assert result.changed
    assert stored() == case["base"]
    assert automerge_node.inspect(stored())["doc"] == {
        "title": "Groceries",
        "items": [],
    }


def test_incremental_changes_are_appended(case):
    storage.write_document(DOC, case["base"])
    storage.write_document(DOC, case["a1"])
    storage.write_document(DOC, case["a2"])

    assert stored() == case["base"] + case["a1"] + case["a2"]
    assert automerge_node.inspect(stored())["doc"]["items"] == [
        {"text": "milk", "done": True}
    ]


def test_concurrent_changes_from_two_devices_are_both_kept(case):
    storage.write_document(DOC, case["base"])
    storage.write_document(DOC, case["b1"])
    storage.write_document(DOC, case["a1"])
    storage.write_document(DOC, case["a2"])

    assert items(stored()) == ["eggs", "milk"]
    assert automerge_node.inspect(stored())["heads"] == case["heads"]["merged"]


def test_a_full_save_is_merged_not_overwritten(case):
    storage.write_document(DOC, case["base"])
    storage.write_document(DOC, case["b1"])
    storage.write_document(DOC, case["full_a"])

    assert items(stored()) == ["eggs", "milk"]


def test_a_save_adds_only_what_is_new_and_replaces_the_chunks(case):
    for name in ("base", "a1", "b1"):
        storage.write_document(DOC, case[name])
    assert Document.objects.get(doc_id=DOC).chunk_count == 3

    result = storage.write_document(DOC, case["full_merged"])

    # Only a2 is new; the stored chunks become one save of everything.
    assert result.changed and result.new_changes == 1
    assert result.chunk_count == 1
    assert automerge_node.inspect(stored())["heads"] == sorted(result.heads)


def test_overlapping_saves_are_merged_into_one_save(case):
    storage.write_document(DOC, case["full_a"])

    result = storage.write_document(DOC, case["full_merged"])

    assert result.chunk_count == 1
    assert items(stored()) == items(case["full_merged"])


def test_server_compaction_keeps_every_change_in_one_chunk(case):
    from todos.storage import compaction

    for name in ("base", "a1", "b1", "a2"):
        storage.write_document(DOC, case[name])
    heads = document_heads()

    assert compaction.compact_document(DOC)

    assert Document.objects.get(doc_id=DOC).chunk_count == 1
    assert automerge_node.inspect(stored())["heads"] == heads
    assert not compaction.compact_document(DOC)  # nothing left to compact


def test_an_upload_the_server_already_has_changes_nothing(case):
    storage.write_document(DOC, case["full_merged"])
    before = stored()

    for name in ("base", "a1", "b1", "full_a", "full_merged"):
        result = storage.write_document(DOC, case[name])
        assert not result.changed, name

    assert stored() == before


def test_repeated_incremental_upload_is_idempotent(case):
    storage.write_document(DOC, case["base"])
    storage.write_document(DOC, case["a1"])

    result = storage.write_document(DOC, case["a1"])

    assert not result.changed
    assert stored() == case["base"] + case["a1"]


def test_upload_of_several_chunks_at_once(case):
    storage.write_document(DOC, case["base"] + case["a1"] + case["b1"] + case["a2"])

    assert items(stored()) == ["eggs", "milk"]


def test_changes_out_of_order_within_one_upload_are_stored_in_order(case):
    storage.write_document(DOC, case["base"])

    storage.write_document(DOC, case["a2"] + case["a1"])

    assert stored() == case["base"] + case["a1"] + case["a2"]


def test_change_with_unknown_dependencies_is_refused_with_409(case):
    storage.write_document(DOC, case["base"])
    before = stored()

    with pytest.raises(storage.MissingDependencies) as refused:
        storage.write_document(DOC, case["c_orphan"])

    assert refused.value.status == 409
    assert "Automerge.save(doc)" in refused.value.message
    assert stored() == before


def test_unknown_dependency_of_an_actors_next_change_is_refused_with_409(case):
    # a2 is actor A's next change, so only the reference reader can tell whether
    # an unknown dependency lies inside the stored save; it does not.
    from tests.helpers.chunks import with_deps

    storage.write_document(DOC, case["base"] + case["a1"])
    before = stored()
    a1 = automerge_node.inspect(before)["heads"][0]
    unknown = hashlib.sha256(b"never made").digest()

    with pytest.raises(storage.MissingDependencies) as refused:
        storage.write_document(DOC, with_deps(case["a2"], [bytes.fromhex(a1), unknown]))

    assert refused.value.status == 409
    assert stored() == before


def test_after_409_the_full_history_is_accepted(case):
    storage.write_document(DOC, case["base"])
    storage.write_document(DOC, case["a1"])

    storage.write_document(DOC, case["full_c"])

    assert items(stored()) == ["milk", "never uploaded", "orphan"]


def test_first_upload_of_a_lone_change_is_refused_and_stores_nothing(case):
    with pytest.raises(storage.MissingDependencies):
        storage.write_document(DOC, case["a1"])

    assert not Document.objects.filter(doc_id=DOC).exists()


def test_empty_document_is_stored_until_something_contains_it(case):
    storage.write_document(DOC, case["empty"])
    assert stored() == case["empty"]

    storage.write_document(DOC, case["base"])

    assert items(stored()) == items(case["base"])


@pytest.mark.parametrize(
    "body, fault",
    [
        (b"", "empty"),
        (b"hello, world", "not valid Automerge data"),
        (b"\x85\x6f\x4a\x83", "not valid Automerge data"),
    ],
)
def test_bad_uploads_are_refused_and_change_nothing(case, body, fault):
    storage.write_document(DOC, case["base"])
    before = stored()

    with pytest.raises(storage.BadUpload) as refused:
        storage.write_document(DOC, body)

    assert refused.value.status == 400
    assert fault in refused.value.message
    assert stored() == before


def test_truncated_and_corrupted_uploads_are_refused(case):
    storage.write_document(DOC, case["base"])
    before = stored()
    body = case["a1"]
    corrupted = body[:20] + bytes([body[20] ^ 0x01]) + body[21:]

    for bad in (body[:-1], body[: len(body) // 2], corrupted, body + b"\x00"):
        with pytest.raises(storage.BadUpload):
            storage.write_document(DOC, bad)

    assert stored() == before


def test_valid_chunk_followed_by_garbage_stores_nothing(case):
    storage.write_document(DOC, case["base"])
    before = stored()

    with pytest.raises(storage.BadUpload):
        storage.write_document(DOC, case["a1"] + b"garbage")

    assert stored() == before


def test_upload_over_the_limit_is_refused_with_413(case, settings):
    storage.write_document(DOC, case["base"])
    before = stored()
    settings.TODOS_MAX_DOCUMENT_BYTES = len(case["full_merged"]) - 1

    with pytest.raises(storage.TooLarge) as refused:
        storage.write_document(DOC, case["full_merged"])

    assert refused.value.status == 413
    assert stored() == before


def test_write_that_would_grow_the_document_past_the_limit_is_refused(case, settings):
    storage.write_document(DOC, case["base"])
    before = stored()
    # The stored form may pass the document limit by 1/16 (the engine's save of
    # a list runs a little larger than the client's), and no further.
    settings.TODOS_MAX_DOCUMENT_BYTES = (len(before) + len(case["a1"])) * 16 // 17

    with pytest.raises(storage.TooLarge, match="stores at most"):
        storage.write_document(DOC, case["a1"])

    assert stored() == before


@pytest.mark.parametrize("doc_id", ["", "a" * 65, "../etc/passwd", "a b", "é"])
def test_invalid_document_ids_are_refused(case, doc_id):
    with pytest.raises(storage.InvalidDocId):
        storage.write_document(doc_id, case["base"])
    with pytest.raises(storage.InvalidDocId):
        storage.read_document(doc_id)


def test_reading_a_missing_document_returns_none():
    assert storage.read_document("nothing-here") is None


def test_etag_changes_with_content_and_only_then(case):
    storage.write_document(DOC, case["base"])
    first = storage.read_document(DOC).etag
    storage.write_document(DOC, case["base"])
    assert storage.read_document(DOC).etag == first

    storage.write_document(DOC, case["a1"])

    assert storage.read_document(DOC).etag != first


def test_write_result_reports_heads_of_the_merged_document(case):
    storage.write_document(DOC, case["base"])
    storage.write_document(DOC, case["a1"])
    storage.write_document(DOC, case["a2"])

    result = storage.write_document(DOC, case["b1"])

    assert result.heads == case["heads"]["merged"]
    assert storage.document_heads(DOC) == case["heads"]["merged"]


def test_heads_after_compaction_are_the_saved_documents_heads(case):
    storage.write_document(DOC, case["base"])
    storage.write_document(DOC, case["b1"])

    result = storage.write_document(DOC, case["full_merged"])

    assert result.heads == case["heads"]["merged"]


def test_stored_size_and_counts_follow_the_chunks(case):
    storage.write_document(DOC, case["base"])
    storage.write_document(DOC, case["a1"])

    document = Document.objects.get(doc_id=DOC)

    assert document.size == len(case["base"]) + len(case["a1"])
    assert document.chunk_count == Chunk.objects.filter(document=document).count() == 2
    assert document.change_count == 2


def test_committed_write_is_pushed_to_the_documents_group(case):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(storage.group_name(DOC), channel)

    storage.write_document(DOC, case["base"], sender="someone")

    message = receive_within(layer, channel)
    assert message["type"] == "doc.updated"
    # The new changes, as the engine holds them: loadIncremental-ready.
    assert automerge_node.inspect(message["data"])["heads"] == document_heads()
    assert message["sender"] == "someone"
    assert message["chunks"] == 1 and message["size"] == len(stored())


def test_change_depending_on_the_inside_of_a_stored_save_is_accepted(case):
    # full_a's header names only its head; b1 depends on base, inside full_a.
    storage.write_document(DOC, case["full_a"])

    result = storage.write_document(DOC, case["b1"])

    assert result.changed
    assert items(stored()) == ["eggs", "milk"]


def test_an_upload_that_changes_nothing_announces_nothing(case):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    storage.write_document(DOC, case["base"])
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(storage.group_name(DOC), channel)

    assert not storage.write_document(DOC, case["base"]).changed
    storage.write_document(DOC, case["a1"])

    message = receive_within(layer, channel)
    assert message["data"] == case["a1"]  # the first message is the later write


def test_new_changes_counts_changes_not_chunks(case):
    storage.write_document(DOC, case["base"])

    result = storage.write_document(DOC, case["a1"] + case["a2"] + case["b1"])

    assert result.new_changes == 3


def with_deps(change, deps):
    """Rebuild a change chunk with other dependencies, and a checksum that fits."""
    from todos.automerge_format import read_uleb, write_uleb

    header_end = 9
    length, body_start = read_uleb(change, header_end)
    body = change[body_start : body_start + length]
    dep_count, pos = read_uleb(body, 0)
    rest = body[pos + 32 * dep_count :]
    new_body = write_uleb(len(deps)) + b"".join(deps) + rest
    checked = bytes([change[8]]) + write_uleb(len(new_body)) + new_body
    checksum = hashlib.sha256(checked).digest()[:4]
    return change[:4] + checksum + checked


def test_change_that_skips_its_actors_previous_change_is_refused(case):
    storage.write_document(DOC, case["base"])
    storage.write_document(DOC, case["a1"])
    base_head = bytes.fromhex(automerge_node.inspect(case["base"])["heads"][0])
    skipping = with_deps(case["a2"], [base_head])  # a2 without a1 in its history
    before = stored()

    with pytest.raises(storage.Unloadable) as refused:
        storage.write_document(DOC, skipping)

    assert refused.value.status == 422
    assert "Automerge could not load the list" in refused.value.message
    assert stored() == before


def test_an_upload_automerge_cannot_read_is_refused_not_dropped(case):
    # A save whose change 1 claims change 2's ops ("invalid changes: missing
    # ops"). Receiving it in a sync message on a document that has changes,
    # Automerge drops it without an error, so the engine checks that every
    # change the upload holds arrived.
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "change_missing_ops"
    broken = fixture.with_suffix(".automerge").read_bytes()
    [save] = parse_chunks(broken)
    storage.write_document(DOC, case["base"])

    def apply(**uploaded):
        heads = document_heads()
        return engine.apply(DOC, heads, broken, stored, **uploaded)

    assert apply().changes == []  # dropped without a word
    with pytest.raises(engine.Unloadable, match="cannot be read"):
        apply(uploaded=save.heads)


def test_change_whose_actor_has_earlier_changes_missing_is_409(case):
    storage.write_document(DOC, case["base"])
    before = stored()

    with pytest.raises(storage.MissingDependencies) as refused:
        storage.write_document(DOC, case["a2"])  # a1 never arrived

    assert "Send the full document instead" in refused.value.message
    assert stored() == before


def test_appending_changes_never_reads_the_stored_chunks(case):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    storage.write_document(DOC, case["base"])
    storage.write_document(DOC, case["b1"])

    with CaptureQueriesContext(connection) as captured:
        storage.write_document(DOC, case["a1"] + case["a2"])

    reads = [q["sql"] for q in captured if q["sql"].startswith("SELECT")]
    assert reads and not any('FROM "todos_chunk"' in sql for sql in reads)


def test_the_etag_of_appended_chunks_matches_a_fresh_read(case):
    storage.write_document(DOC, case["base"])
    storage.write_document(DOC, case["a1"])
    result = storage.write_document(DOC, case["b1"])

    assert result.etag == storage.read_document(DOC).etag
    assert result.heads == storage.document_heads(DOC)


def receive_within(layer, channel, seconds=5):
    """The next message on ``channel``; fails, rather than hangs, if none comes."""
    import asyncio

    from asgiref.sync import async_to_sync

    async def receive():
        return await asyncio.wait_for(layer.receive(channel), seconds)

    return async_to_sync(receive)()


def test_a_large_upload_is_followed_by_a_heap_trim_even_when_refused(case, monkeypatch):
    from todos import memory

    if memory._malloc_trim is None:
        pytest.skip("this C library has no malloc_trim (glibc has)")
    trims = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda pad: trims.append(pad) or 1)

    storage.write_document(DOC, case["base"])  # small: no trim
    assert trims == []
    with pytest.raises(storage.BadUpload):
        storage.write_document(DOC, case["base"] + b"\0" * memory.TRIM_AFTER_BYTES)

    assert trims == [0]
    assert storage.read_document(DOC).data == case["base"]


def test_on_sqlite_one_thread_at_a_time_writes():
    """Writers queue in the process instead of polling SQLite for its lock;
    on PostgreSQL they go straight to the database, which queues them itself."""
    import threading

    from django.db import connection

    from todos.storage.errors import one_writer

    inside, order = threading.Event(), []

    def second():
        with one_writer():
            order.append("second")

    with one_writer():
        thread = threading.Thread(target=second)
        thread.start()
        inside.wait(0.2)  # time for the second writer to come in, if it could
        order.append("first")
    thread.join(5)

    if connection.vendor == "sqlite":
        assert order == ["first", "second"]
    else:
        assert order == ["second", "first"]


# --- concurrent writes committed together (service.write_batch) -------------------


@pytest.fixture(scope="module")
def made():
    """A stored list, genuine changes to it, and a change Automerge cannot take."""
    return attacks.make_attacks()


def batch(*bodies):
    """Write ``bodies`` to DOC as one batch; return the outcomes."""
    uploads = [storage.service.prepare_upload(body) for body in bodies]
    return storage.service.write_batch(DOC, uploads)


def texts(data):
    return {item["text"] for item in automerge_node.inspect(data)["doc"]["items"]}


def test_a_batch_of_changes_is_stored_as_one_chunk_and_each_is_answered(made):
    storage.write_document(DOC, made["stored"])

    genuine, first = batch(made["genuine"], made["first"])

    assert genuine.changed and first.changed
    assert genuine.new_bytes == made["genuine"] and genuine.new_changes == 1
    assert first.new_bytes == made["first"] and first.new_changes == 1
    assert genuine.heads == first.heads == document_heads()
    assert Chunk.objects.filter(document_id=DOC).count() == 2
    assert {attacks.GENUINE_TEXT, attacks.FIRST_TEXT} <= texts(stored())


def test_a_change_already_stored_is_answered_unchanged_in_a_batch(made):
    storage.write_document(DOC, made["stored"])
    storage.write_document(DOC, made["first"])

    genuine, again = batch(made["genuine"], made["first"])

    assert genuine.changed and not again.changed
    assert again.new_changes == 0 and again.heads == document_heads()


def test_a_refused_upload_in_a_batch_does_not_fail_its_neighbours(made):
    storage.write_document(DOC, made["stored"])

    genuine, poisoned, first, conflict = batch(
        made["genuine"], made["poisoned_insert"], made["first"], made["second"]
    )

    assert genuine.changed and first.changed
    assert isinstance(poisoned, storage.Unloadable)
    # "second" reuses the seq of "first", which the batch stored before it.
    assert isinstance(conflict, storage.HistoryConflict)
    assert first.heads == document_heads()
    assert texts(stored()) >= {attacks.GENUINE_TEXT, attacks.FIRST_TEXT}
    assert attacks.SECOND_TEXT not in texts(stored())


def test_a_batch_whose_every_upload_is_refused_leaves_the_bytes_identical(made):
    storage.write_document(DOC, made["stored"])
    before = stored()

    outcomes = batch(made["poisoned_insert"], made["bad_pred"])

    assert [type(outcome) for outcome in outcomes] == [storage.Unloadable] * 2
    assert stored() == before


def test_a_batch_refused_on_a_new_document_leaves_no_row(made):
    outcomes = batch(made["poisoned_insert"], made["bad_pred"])

    assert all(isinstance(outcome, storage.StorageError) for outcome in outcomes)
    assert not Document.objects.filter(doc_id=DOC).exists()


def test_uploads_with_many_ops_in_all_are_applied_one_by_one(made, monkeypatch):
    monkeypatch.setattr(storage.service, "TOGETHER_MAX_OPS", 1)
    storage.write_document(DOC, made["stored"])

    genuine, first = batch(made["genuine"], made["first"])

    assert genuine.changed and first.changed
    assert Chunk.objects.filter(document_id=DOC).count() == 3  # one chunk each
