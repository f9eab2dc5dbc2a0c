"""Semantically invalid uploads are refused (400) and leave the document as it was.

Each test breaks one rule that ``Automerge.load`` depends on, in a change that is
otherwise well formed (checksums and columns are valid), and checks that the write
is refused with a message, and that the stored bytes did not change. The rules and
where they are checked: ``todos/automerge_format/semantics.py`` (the upload alone)
and real Automerge (``todos.engine``, against the stored document: 422).
"""

import base64
import re

import pytest

from tests import automerge_node
from tests.test_fuzz import ROOT, chunk, with_column
from todos import storage
from todos.automerge_format import parse_chunks, read_uleb, write_sleb, write_uleb
from todos.automerge_format.ops import ACTION, KEY_ACTOR, KEY_CTR, OBJ_ACTOR, OBJ_CTR

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


def refused(body, before, match):
    """The write is refused and the stored bytes are as they were.

    The format reader refuses what is wrong in the upload alone (400, with
    ``match``); real Automerge refuses what is wrong against the stored document
    (422, with its own words).
    """
    with pytest.raises((storage.BadUpload, storage.Unloadable)) as error:
        storage.write_document(DOC, body)
    if error.value.status == 400:
        assert re.search(match, error.value.message)
    else:
        assert error.value.status == 422 and "Automerge could not load" in str(
            error.value
        )
    assert storage.read_document(DOC).data == before
    return error.value


def test_valid_edits_are_accepted(made, stored):
    storage.write_document(DOC, made["push"])
    assert storage.read_document(DOC).data == stored + made["push"]


def test_a_save_whose_last_changes_only_delete_is_accepted_and_checked(made):
    # A save leaves delete ops out; they are the successors of the ops they
    # delete (the title's delete three times: it overwrote a conflict).
    save = parse_chunks(made["deleted"])[0]

    assert storage.write_document(DOC, made["deleted"]).changed
    assert not save.has_empty_change


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
    # 99 is past the change's own op IDs: the format layer sees it alone.
    refused(broken, stored, "not made by an earlier op of the same change")


def test_an_op_of_the_document_that_is_not_an_object(made, stored):
    storage.write_document(DOC, made["unshifted"])
    before = storage.read_document(DOC).data
    rows = parse_chunks(made["edit"])[0].op_count
    # Op 3@aa.. sets an item's "done"; it makes no object.
    broken = with_column(made["edit"], OBJ_CTR, write_sleb(rows) + write_uleb(3))
    refused(broken, before, "works on object 3@a+, which this document does not")


def test_a_key_on_a_list(made, stored):
    # Every op of the push now works on the root's items list with a map key.
    push = made["push"]
    rows = parse_chunks(push)[0].op_count
    broken = with_column(push, OBJ_CTR, write_sleb(rows) + write_uleb(1))
    broken = with_column(broken, OBJ_ACTOR, write_sleb(rows) + write_uleb(0))
    refused(broken, stored, "a list, as if it were another kind")


def test_an_element_that_comes_later_in_the_change(made, stored):
    push = made["push"]
    change = parse_chunks(push)[0]
    last = change.start_op + change.op_count + 5
    keys = write_sleb(change.op_count) + write_sleb(last)  # all name a later op
    broken = with_column(push, KEY_CTR, keys)
    with pytest.raises(storage.BadUpload) as error:
        storage.write_document(DOC, broken)
    assert storage.read_document(DOC).data == stored
    assert error.value.status == 400


def test_a_make_op_with_a_value(made, stored):
    push = made["push"]
    change = parse_chunks(push)[0]
    # makeMap (0) everywhere: the ops with values now make maps with values.
    actions = write_sleb(change.op_count) + write_uleb(0)
    broken = with_column(push, ACTION, actions)
    refused(broken, stored, "carries a value|works on")


def test_an_actor_the_document_lacks_in_a_change_actor_table(made, stored):
    # A change listing an unknown actor makes Automerge 3 panic, used or not.
    change = parse_chunks(made["push"])[0]
    body = write_uleb(len(change.deps)) + b"".join(change.deps)
    body += write_uleb(len(change.actor)) + change.actor + write_uleb(change.seq)
    body += write_uleb(change.start_op) + write_sleb(change.time) + write_uleb(0)
    body += write_uleb(1) + write_uleb(16) + b"\xcc" * 16 + write_uleb(0)
    refused(chunk(1, body), stored, "names actor c+, which has no changes")


def test_an_op_id_repeated_far_apart_in_a_document(made, stored):
    # Found by the repaired mutations: one byte of a document's idCtr column
    # shifted a run of text ops down by one, so the first character got the ID
    # of the makeText op five rows earlier. Automerge 3.5 panics on loading it
    # ("assertion failed: self.data[index].is_none()").
    from tests.test_fuzz import load_failures_in_automerge

    broken = (ROOT / "tests" / "fixtures" / "repeated_op_id.automerge").read_bytes()
    assert load_failures_in_automerge([broken])  # not loadable: a real bad case

    refused(broken, stored, "appears twice")


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

    refused(mutated, before, "keyActor column: an op on an object made by the same")
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
    ("fixture", "message"),
    [
        # Found by the repaired mutations: one byte of a save's depsIndex column
        # changed. Here a's change 2 depends on itself: Automerge 3.5 panics
        # ("called `Option::unwrap()` on a `None` value").
        ("change_depends_on_itself", "is not above the op IDs of that change's"),
        # Here b's change 1 depends on a's change 2, made concurrently, instead
        # of on a's change 1; Automerge 3.5 refuses it ("mismatching heads").
        # Both changes end at the same maxOp as their new dependency, so they
        # looked like empty changes, which skip the independent reader.
        ("dependency_on_a_concurrent_change", "is not above the op IDs of that"),
        # Here a's change 1 got maxOp 27 instead of 11, so its range takes
        # change 2's ops and change 2 lacks most of its own; Automerge 3.5 says
        # "invalid changes: missing ops".
        ("change_missing_ops", "change 1 of actor a+ lacks op 20, below its maxOp"),
    ],
)
def test_a_save_whose_changes_do_not_own_their_ops(fixture, message, stored):
    from tests.test_fuzz import load_failures_in_automerge

    broken = (ROOT / "tests" / "fixtures" / f"{fixture}.automerge").read_bytes()
    assert load_failures_in_automerge([broken])  # not loadable: a real bad case

    refused(broken, stored, message)


def test_bytes_after_a_change_without_op_columns():
    # Found by the repaired mutations: a change's column count became 0, so its
    # columns read as extra bytes after a change with no ops, which skips the
    # independent reader. Automerge 3.5 panics ("change.seq() == 1").
    from tests.test_fuzz import load_failures_in_automerge

    broken = ROOT / "tests" / "fixtures" / "empty_change_with_extra_bytes.automerge"
    broken = broken.read_bytes()
    *valid, mutated = raw_chunks(broken)
    assert load_failures_in_automerge([broken])  # not loadable: a real bad case
    storage.write_document(DOC, b"".join(valid))
    before = storage.read_document(DOC).data

    refused(mutated, before, "bytes follow a change that has no op columns")
