"""The engine process's work, called in this process: apply, refuse, cache, decode."""

import pytest
from automerge.core import Document, Message, SyncState

from tests import automerge_node
from tests.helpers.chunks import with_deps
from tests.test_fuzz import with_column
from todos.automerge_format import write_sleb
from todos.engine import worker

MAKE = """
import * as Automerge from '@automerge/automerge'
const b64 = bytes => Buffer.from(bytes).toString('base64')
const out = {}
let doc = Automerge.from({ title: 'T', items: [] }, { actor: 'aa'.repeat(16) })
for (let i = 0; i < 3; i++) doc = Automerge.change(doc, d => {
  d.items.push({ text: 'item ' + i, done: false })
})
out.save = b64(Automerge.save(doc))
const same = Automerge.clone(doc, { actor: 'aa'.repeat(16) })
const mine = Automerge.clone(doc, { actor: 'aa'.repeat(16) })
const toggled = Automerge.change(mine, d => {
  d.items[1].done = true
})
out.toggle = b64(Automerge.getLastLocalChange(toggled))
const other = Automerge.change(same, d => { d.title = 'other' })
out.same_seq = b64(Automerge.getLastLocalChange(other))
const later = Automerge.change(toggled, d => { d.items[0].done = true })
out.after_toggle = b64(Automerge.getLastLocalChange(later))
const theirs = Automerge.change(Automerge.clone(doc, { actor: 'bb'.repeat(16) }), d => {
  d.title = 'theirs'
})
out.theirs = b64(Automerge.getLastLocalChange(theirs))
process.stdout.write(JSON.stringify(out))
"""
PRED_CTR = 0x73
ACTOR = "aa" * 16


@pytest.fixture(scope="module")
def made():
    return automerge_node.run_script(MAKE)


@pytest.fixture(autouse=True)
def fresh_cache():
    worker.start(cache_docs=4, cache_bytes=1 << 20, silence_stderr=False)
    worker._cache.clear()
    worker._known.clear()
    yield
    worker._cache.clear()
    worker._known.clear()


def stored(made):
    outcome = worker.apply("doc", [], b"", made["save"])
    assert outcome[0] == "applied" and len(outcome[2]) == 4
    return outcome[1]


def test_an_upload_is_applied_to_the_warm_copy_without_the_stored_bytes(made):
    heads = stored(made)

    outcome = worker.apply("doc", heads, None, made["toggle"])

    assert outcome[0] == "applied" and outcome[1] != heads
    (change,) = outcome[2]
    assert change[4] == made["toggle"]  # the change's bytes as uploaded


def test_a_copy_at_other_heads_is_not_used(made):
    stored(made)

    assert worker.apply("doc", ["00" * 32], None, made["toggle"]) == worker.NEED_STORED


def test_an_upload_that_adds_nothing_keeps_the_heads(made):
    heads = stored(made)

    assert worker.apply("doc", heads, None, made["save"]) == (
        "applied",
        heads,
        [],
        None,
    )


def test_a_change_whose_dependency_is_missing_is_named(made):
    heads = stored(made)

    outcome = worker.apply("doc", heads, None, made["after_toggle"])

    assert outcome[0] == "missing" and len(outcome[1]) == 1


def test_a_reused_seq_with_other_content_is_a_conflict(made):
    heads = worker.apply("doc", stored(made), None, made["toggle"])[1]

    outcome = worker.apply("doc", heads, None, made["same_seq"])

    assert outcome[0] == "conflict" and "duplicate seq" in outcome[1]


def test_a_predecessor_that_is_not_there_is_refused(made):
    heads = stored(made)
    bad = with_column(made["toggle"], PRED_CTR, write_sleb(-1) + write_sleb(9999))

    outcome = worker.apply("doc", heads, None, bad)

    assert outcome == (
        "unloadable",
        f"change 5 of actor {ACTOR}: its ops name a predecessor the list lacks, "
        "or it is not encoded as Automerge encodes it, so the list would not load",
    )


def test_what_the_check_refuses_the_engine_takes_and_then_cannot_load(made):
    bad = with_column(made["toggle"], PRED_CTR, write_sleb(-1) + write_sleb(9999))
    doc = Document.load(made["save"])
    doc.receive_sync_message(SyncState(), Message.decode(worker._sync_message(bad, [])))

    assert len(doc.get_heads()) == 1  # taken without a word
    with pytest.raises(Exception, match="mismatching heads"):
        Document.load(doc.save())


def test_a_change_whose_actors_previous_change_is_not_in_its_history_is_refused(made):
    heads = stored(made)
    toggled = worker.apply("doc", heads, None, made["toggle"])[1]
    skipping = with_deps(made["after_toggle"], [bytes.fromhex(h) for h in heads])

    outcome = worker.apply("doc", toggled, None, skipping)

    assert outcome == (
        "unloadable",
        f"change 6 of actor {ACTOR}: its actor's change 5 is not in its history, "
        "so the list would not load",
    )


def test_the_previous_change_is_looked_for_among_the_uploads_own_changes(made):
    heads = stored(made)
    skipping = with_deps(made["after_toggle"], [bytes.fromhex(h) for h in heads])

    outcome = worker.apply("doc", heads, None, made["toggle"] + skipping)

    assert outcome[0] == "unloadable" and "change 5 is not in its history" in outcome[1]
    in_order = worker.apply("doc", heads, None, made["toggle"] + made["after_toggle"])
    assert in_order[0] == "applied" and len(in_order[2]) == 2


def test_past_its_budget_the_check_falls_back_to_the_round_trip(made, monkeypatch):
    monkeypatch.setattr(worker, "_STEPS_PER_CHANGE", 0)
    heads = stored(made)
    toggled = worker.apply("doc", heads, None, made["toggle"])
    # Change 6 of actor aa, on top of bb's new change instead of its own change 5.
    (theirs,) = Document.load(made["save"] + made["theirs"]).get_heads()
    skipping = with_deps(made["after_toggle"], [theirs])

    refused = worker.apply("doc", toggled[1], None, made["theirs"] + skipping)
    applied = worker.apply("doc", toggled[1], None, made["after_toggle"])

    # Refused by load() itself ("... max_op is lower than start_op"), not by the
    # cheap check, whose reasons start "change N of actor ...".
    assert refused[0] == "unloadable" and not refused[1].startswith("change ")
    assert "document chunk" in refused[1]
    assert applied[0] == "applied" and applied[3] is None  # no round trip needed


class NoHistory:
    """A stored document that refuses to list its history."""

    def get_changes(self, heads):
        raise AssertionError("asked the engine for the history")


def test_the_previous_change_is_found_among_stored_changes_this_process_knows(made):
    toggled = worker.apply("doc", stored(made), None, made["toggle"])[1]
    whole = Document.load(made["save"] + made["toggle"] + made["after_toggle"])
    new = whole.get_changes([bytes.fromhex(head) for head in toggled])

    assert worker._skips_a_change(NoHistory(), new) is None  # change 5 is known
    worker._known.clear()
    with pytest.raises(AssertionError, match="asked the engine"):
        worker._skips_a_change(NoHistory(), new)


def test_a_failed_upload_leaves_the_warm_copy_as_it_was(made):
    heads = stored(made)
    bad = with_column(made["toggle"], PRED_CTR, write_sleb(-1) + write_sleb(9999))

    assert worker.apply("doc", heads, None, bad)[0] == "unloadable"
    assert worker.apply("doc", heads, None, made["toggle"])[0] == "applied"


def test_the_cache_evicts_the_least_recently_used_past_its_byte_limit(made):
    worker.start(cache_docs=4, cache_bytes=len(made["save"]) * 2, silence_stderr=False)
    for name in ("a", "b", "c"):
        worker.apply(name, [], b"", made["save"])

    assert list(worker._cache) == ["b", "c"]


def test_decode_gives_plain_values_and_the_changes(made):
    heads = stored(made)

    outcome, value, changes, decoded_heads = worker.decode("doc", heads, None)

    assert outcome == "decoded" and decoded_heads == heads
    assert value == {
        "title": "T",
        "items": [{"text": f"item {i}", "done": False} for i in range(3)],
    }
    assert [c[2] for c in changes] == [1, 2, 3, 4]
    assert all(c[3] > 1_700_000_000 for c in changes)  # seconds, as written


def test_decode_can_leave_the_changes_out(made):
    heads = stored(made)

    assert worker.decode("doc", heads, None, None, False)[2] == []


def test_a_change_whose_actors_earlier_change_never_arrived_is_refused(made):
    heads = stored(made)
    gap = with_deps(made["after_toggle"], [bytes.fromhex(h) for h in heads])

    outcome = worker.apply("doc", heads, None, gap)  # change 6 with no change 5

    assert outcome[0] == "unloadable"
    assert worker.apply("doc", heads, None, made["toggle"])[0] == "applied"
