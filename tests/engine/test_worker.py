"""The engine process's work, called in this process: apply, refuse, cache, decode."""

import pytest

from tests import automerge_node
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
process.stdout.write(JSON.stringify(out))
"""
PRED_CTR = 0x73


@pytest.fixture(scope="module")
def made():
    return automerge_node.run_script(MAKE)


@pytest.fixture(autouse=True)
def fresh_cache():
    worker.start(cache_docs=4, cache_bytes=1 << 20, silence_stderr=False)
    worker._cache.clear()
    yield
    worker._cache.clear()


def stored(made):
    outcome = worker.apply("doc", [], b"", made["save"], False)
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


def test_a_predecessor_that_is_not_there_fails_the_round_trip(made):
    heads = stored(made)
    bad = with_column(made["toggle"], PRED_CTR, write_sleb(-1) + write_sleb(9999))

    assert worker.apply("doc", heads, None, bad, False)[0] == "applied"
    worker._cache.clear()
    outcome = worker.apply("doc", [], b"", made["save"] + bad, True)

    assert outcome == (
        "unloadable",
        "error inflating document chunk ops: mismatching heads",
    )


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
