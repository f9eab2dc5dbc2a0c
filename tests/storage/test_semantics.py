"""Semantically invalid uploads are refused and leave the document as it was.

Each test breaks one rule that ``Automerge.load`` depends on, in a change that is
otherwise well formed (checksums and columns are valid), and checks that the write
is refused, and that the stored bytes did not change. Real Automerge
(``todos.engine``) checks them, against the stored document: 422 (409 for a
reused seq). The format pre-check (``todos.automerge_format``) frames and
counts, and refuses one thing the engine takes but Automerge 3.5 cannot load
(400). One edit that looks wrong is valid to Automerge, and is taken.
"""

import base64
import re

import pytest

from tests import automerge_node
from tests.helpers.chunks import (
    ACTION,
    KEY_ACTOR,
    KEY_CTR,
    OBJ_ACTOR,
    OBJ_CTR,
    chunk,
    with_column,
)
from tests.test_fuzz import ROOT
from todos import storage
from todos.automerge_format import parse_chunks, read_uleb, write_sleb, write_uleb

pytestmark = pytest.mark.django_db
DOC = "semantics"

MAKE = """
import * as Automerge from '@automerge/automerge'
const out = {}
const b64 = bytes => Buffer.from(bytes).toString('base64')
let a = Automerge.from({ items: [] }, { actor: 'aa'.repeat(16) })
out.base = b64(Automerge.save(a))
a = Automerge.change(a, d => { d.items.push({ text: 'milk', done: false }) })
out.push = b64(Automerge.getLastLocalChange(a))
for (let i = 0; i < 4; i++) {
  a = Automerge.change(a, d => { d.items.unshift({ text: 'x' + i, done: false }) })
}
out.unshifted = b64(Automerge.save(a))
a = Automerge.change(a, d => { d.items[4].done = true; d.items[0].done = true })
out.edit = b64(Automerge.getLastLocalChange(a))
let b = Automerge.clone(a, { actor: 'bb'.repeat(16) })
let c = Automerge.clone(a, { actor: 'cc'.repeat(16) })
a = Automerge.change(a, d => { d.title = 'mine' })
b = Automerge.change(b, d => { d.title = 'theirs' })
c = Automerge.change(c, d => { d.title = 'another' })
a = Automerge.merge(Automerge.merge(a, b), c)
a = Automerge.change(a, d => { delete d.title }) // one delete of three values
a = Automerge.change(a, d => { d.items.splice(1, 2) })
out.deleted = b64(Automerge.save(a))
process.stdout.write(JSON.stringify(out))
"""


@pytest.fixture(scope="module")
def made():
    return automerge_node.run_script(MAKE)


@pytest.fixture
def stored(made):
    storage.write_document(DOC, made["base"])
    return storage.read_document(DOC).data


def refused(body, before, match=None):
    """The write is refused (4xx) and the stored bytes are as they were.

    Real Automerge refuses what is wrong: 422 (it cannot load the list with the
    upload, in its own words) or 409 (a change reuses an actor's seq). A refusal
    by the format pre-check (400) must match ``match``.
    """
    with pytest.raises(storage.StorageError) as error:
        storage.write_document(DOC, body)
    status, message = error.value.status, error.value.message
    if status == 400:
        assert match and re.search(match, message), message
    elif status == 422:
        assert "Automerge could not load" in message
    else:
        assert status == 409, message
    assert storage.read_document(DOC).data == before
    return error.value


def test_valid_edits_are_accepted(made, stored):
    storage.write_document(DOC, made["push"])
    assert storage.read_document(DOC).data == stored + made["push"]


def test_a_save_whose_last_changes_only_delete_is_accepted_and_checked(made):
    # A save leaves delete ops out; they are the successors of the ops they
    # delete (the title's delete three times: it overwrote a conflict).
    assert storage.write_document(DOC, made["deleted"]).changed


def test_a_save_and_a_change_on_its_objects_in_one_upload(made, stored):
    # The unshifted items' maps are a descending progression of op IDs.
    result = storage.write_document(DOC, made["unshifted"] + made["edit"])
    assert result.changed and result.new_changes == 6


def test_a_change_on_objects_of_a_stored_save(made, stored):
    storage.write_document(DOC, made["unshifted"])
    assert storage.write_document(DOC, made["edit"]).new_changes == 1


def test_an_object_nobody_made(made, stored):
    push = made["push"]
    rows = parse_chunks(push)[0].op_count
    broken = with_column(push, OBJ_CTR, write_sleb(rows) + write_uleb(99))
    refused(broken, stored)


def test_an_op_of_the_document_that_is_not_an_object(made, stored):
    storage.write_document(DOC, made["unshifted"])
    before = storage.read_document(DOC).data
    rows = parse_chunks(made["edit"])[0].op_count
    # Op 3@aa.. sets an item's "done"; it makes no object.
    broken = with_column(made["edit"], OBJ_CTR, write_sleb(rows) + write_uleb(3))
    refused(broken, before)


def test_a_key_on_a_list(made, stored):
    # Every op of the push now works on the root's items list with a map key.
    push = made["push"]
    rows = parse_chunks(push)[0].op_count
    broken = with_column(push, OBJ_CTR, write_sleb(rows) + write_uleb(1))
    broken = with_column(broken, OBJ_ACTOR, write_sleb(rows) + write_uleb(0))
    refused(broken, stored)


def test_an_element_that_comes_later_in_the_change(made, stored):
    push = made["push"]
    change = parse_chunks(push)[0]
    last = change.start_op + change.op_count + 5
    keys = write_sleb(change.op_count) + write_sleb(last)  # all name a later op
    broken = with_column(push, KEY_CTR, keys)
    # Automerge cannot read the change (a key with both a string and an element
    # ID); receiving it, the engine drops it without a word, and storage refuses.
    refused(broken, stored)


def test_a_make_op_with_a_value_is_taken_as_automerge_takes_it(made, stored):
    from tests.test_fuzz import load_failures_in_automerge

    push = made["push"]
    change = parse_chunks(push)[0]
    # makeMap (0) everywhere: the ops with values now make maps with values.
    # Real Automerge (the engine, and 3.5 in Node) ignores the values and loads
    # the result, whose item is maps: a strange edit, not a broken list.
    actions = write_sleb(change.op_count) + write_uleb(0)
    broken = with_column(push, ACTION, actions)

    assert storage.write_document(DOC, broken).new_changes == 1
    assert not load_failures_in_automerge([storage.read_document(DOC).data])


def test_an_actor_the_document_lacks_in_a_change_actor_table(made, stored):
    # A change listing an unknown actor makes Automerge 3 panic, used or not.
    change = parse_chunks(made["push"])[0]
    body = write_uleb(len(change.deps)) + b"".join(change.deps)
    body += write_uleb(len(change.actor)) + change.actor + write_uleb(change.seq)
    body += write_uleb(change.start_op) + write_sleb(change.time) + write_uleb(0)
    body += write_uleb(1) + write_uleb(16) + b"\xcc" * 16 + write_uleb(0)
    refused(chunk(1, body), stored)


def test_an_op_id_repeated_far_apart_in_a_document(made, stored):
    # Found by the repaired mutations: one byte of a document's idCtr column
    # shifted a run of text ops down by one, so the first character got the ID
    # of the makeText op five rows earlier. Automerge 3.5 panics on loading it
    # ("assertion failed: self.data[index].is_none()").
    from tests.test_fuzz import load_failures_in_automerge

    broken = (ROOT / "tests" / "fixtures" / "repeated_op_id.automerge").read_bytes()
    assert load_failures_in_automerge([broken])  # not loadable: a real bad case

    refused(broken, stored)


def test_an_element_of_another_text_in_a_text_the_change_makes():
    # Found by the repaired mutations: one bit of a change's keyActor column
    # (00 04 03 00, four nulls then actor 0 three times, became 00 04 03 01) made
    # the characters typed into the text the change makes name, as the elements
    # they follow, characters another change typed into another text (15@aa..
    # instead of 15@bb..). Automerge 3.5 panics on loading the stored document
    # ("assertion failed: self.entry.is_empty()").
    from tests.test_fuzz import load_failures_in_automerge

    broken = ROOT / "tests" / "fixtures" / "element_of_another_text.automerge"
    broken = broken.read_bytes()
    *valid, mutated = raw_chunks(broken)
    valid = b"".join(valid)
    repaired = with_column(mutated, KEY_ACTOR, bytes.fromhex("00040300"))
    # A real bad case: the document does not load, and with the bit set back it does.
    failures = load_failures_in_automerge([broken, valid + repaired])
    assert [(error, base64.b64decode(doc)) for error, doc in failures] == [
        ("PanicError: assertion failed: self.entry.is_empty()", broken)
    ]
    storage.write_document(DOC, valid)
    before = storage.read_document(DOC).data

    refused(mutated, before)
    assert storage.write_document(DOC, repaired).new_changes == 1


def raw_chunks(data):
    """The chunks of ``data``, split by their headers alone (nothing checked)."""
    chunks, pos = [], 0
    while pos < len(data):
        length, start = read_uleb(data, pos + 9)  # after magic, checksum, type
        chunks.append(data[pos : start + length])
        pos = start + length
    return chunks


@pytest.mark.parametrize(
    "fixture",
    [
        # Found by the repaired mutations: one byte of a save's depsIndex column
        # changed. Here a's change 2 depends on itself: Automerge 3.5 panics
        # ("called `Option::unwrap()` on a `None` value").
        "change_depends_on_itself",
        # Here b's change 1 depends on a's change 2, made concurrently, instead
        # of on a's change 1; Automerge 3.5 refuses it ("mismatching heads").
        "dependency_on_a_concurrent_change",
        # Here a's change 1 got maxOp 27 instead of 11, so its range takes
        # change 2's ops and change 2 lacks most of its own; Automerge 3.5 says
        # "invalid changes: missing ops". The engine drops the save without a
        # word on receiving it; its heads are missing, so storage refuses it.
        "change_missing_ops",
    ],
)
def test_a_save_whose_changes_do_not_own_their_ops(fixture, stored):
    from tests.test_fuzz import load_failures_in_automerge

    broken = (ROOT / "tests" / "fixtures" / f"{fixture}.automerge").read_bytes()
    assert load_failures_in_automerge([broken])  # not loadable: a real bad case

    refused(broken, stored)


def test_bytes_after_a_change_without_op_columns():
    # Found by the repaired mutations: a change's column count became 0, so its
    # columns read as extra bytes after a change with no ops. The engine takes
    # it, but Automerge 3.5 panics on loading the result ("change.seq() == 1"),
    # so the format pre-check refuses it.
    from tests.test_fuzz import load_failures_in_automerge

    broken = ROOT / "tests" / "fixtures" / "empty_change_with_extra_bytes.automerge"
    broken = broken.read_bytes()
    *valid, mutated = raw_chunks(broken)
    assert load_failures_in_automerge([broken])  # not loadable: a real bad case
    storage.write_document(DOC, b"".join(valid))
    before = storage.read_document(DOC).data

    refused(mutated, before, "bytes follow a change that has no op columns")
