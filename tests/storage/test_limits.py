"""The cheap limits refuse oversized work before the engine sees it, and never a
genuine document: a real list just under the size limit, with long texts in
mixed scripts and emoji by several actors, is stored and edited."""

import json
import time

import pytest

from tests import automerge_node
from tests.conftest import run_node
from tests.helpers.chunks import compressed
from todos import storage

pytestmark = pytest.mark.django_db(transaction=True)

# The document limit for these tests: large enough for a list of thousands of
# 800-character items, small enough to build in Node in seconds.
LIMIT = 2 * 1024 * 1024
# The list's JS save is made just under the limit. The server stores the engine's
# save() of it, about 1.2% larger (see storage.limits.max_stored_bytes).
TARGET = LIMIT

BOMB = """
import * as Automerge from '@automerge/automerge'
const b64 = bytes => Buffer.from(bytes).toString('base64')
const start = { items: [{ text: '', done: false }] }
let doc = Automerge.from(start, { actor: 'ab'.repeat(16) })
const base = Automerge.save(doc)
doc = Automerge.change(doc, d => {
  Automerge.splice(d, ['items', 0, 'text'], 0, 0, 'x'.repeat(3000000))
})
const bomb = Automerge.getLastLocalChange(doc)
process.stdout.write(JSON.stringify({ base: b64(base), bomb: b64(bomb) }))
"""


@pytest.fixture(scope="module")
def large_list(tmp_path_factory):
    """A genuine list whose save() is just under LIMIT, and one edit on top."""
    path = tmp_path_factory.mktemp("large") / "list.automerge"
    done = run_node("tests/node/make_large_list.mjs", TARGET, path, timeout=600)
    facts = json.loads(done.stdout)
    return path.read_bytes(), path.with_name("list.automerge.next").read_bytes(), facts


def test_a_genuine_list_just_under_the_limit_is_stored_and_edited(large_list, settings):
    settings.TODOS_MAX_DOCUMENT_BYTES = LIMIT
    save, edit, facts = large_list
    assert LIMIT * 0.9 < len(save) <= LIMIT

    stored = storage.write_document("large", save)
    edited = storage.write_document("large", edit)

    assert stored.changed and stored.new_changes == facts["changes"]
    assert edited.changed and edited.new_changes == 1
    loaded = automerge_node.inspect(storage.read_document("large").data)
    assert loaded["heads"] == facts["heads"]
    assert len(loaded["doc"]["items"]) == facts["items"]
    assert loaded["doc"]["items"][-1]["text"].startswith("edited ✏️ 編集 ")


def test_a_text_bomb_is_refused_by_the_ops_limit_before_the_engine():
    made = automerge_node.run_script(BOMB)
    storage.write_document("bombed", made["base"])
    before = storage.read_document("bombed").data
    bomb = compressed(made["bomb"])
    assert len(bomb) < 4096  # three million characters in a few kilobytes

    started = time.perf_counter()
    with pytest.raises(storage.TooLarge, match="more work than this server does"):
        storage.write_document("bombed", bomb)

    assert time.perf_counter() - started < 3
    assert storage.read_document("bombed").data == before
