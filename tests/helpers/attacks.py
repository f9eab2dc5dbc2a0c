"""Crafted uploads that real Automerge cannot take, built from real changes.

Each attack starts from bytes made by ``@automerge/automerge`` in Node on one
stored document (``make_attacks``), then rewrites one op column of a change and
repairs its checksum and hash (``tests.helpers.chunks.with_column``), so the bytes pass
every check of the chunk format and reach the engine:

- ``poisoned_insert``: an insert into a text after an element that does not exist
  (Automerge 3.x panics, "assertion failed: self.entry.is_empty()");
- ``wrong_object``: a map op on an object that is a text, or that nobody made
  (the first loads but fails save() -> load(), "missing ops"; the second panics,
  "Missing from Index");
- ``bad_pred``: an overwrite whose predecessor is not the op it overwrites (both
  JS and Rust apply it; the document then fails save() -> load(), "mismatching
  heads");
- ``first`` / ``second``: two different changes with the same actor and seq;
- ``make_text_bomb``: a ~3 KB DEFLATE-compressed change that inserts 3,000,000
  characters.
"""

import base64
import json
import subprocess

from tests.automerge_node import ROOT, run_script
from tests.helpers.chunks import KEY_CTR, OBJ_CTR, PRED_CTR, compressed, with_column
from todos.automerge_format import parse_chunks, write_sleb, write_uleb

ACTOR_OWNER = "aa" * 16  # made the stored document
ACTOR_ATTACKER = "cc" * 16  # the crafted changes
ACTOR_TWIN = "dd" * 16  # two different changes with one seq
ACTOR_HONEST = "ee" * 16  # the genuine edits made after each attack
GENUINE_TEXT = "genuine edit"
FIRST_TEXT = "first of the twins"
SECOND_TEXT = "second of the twins"
BOMB_CHARACTERS = 3_000_000

MAKE_ATTACKS = """
import * as Automerge from '@automerge/automerge'
const out = {}
const put = (name, bytes) => { out[name] = Buffer.from(bytes).toString('base64') }
const text = string => new TextEncoder().encode(string)
let doc = Automerge.from({
  title: 'Attacked list',
  items: [{ text: 'milk', done: false }, { text: 'eggs', done: false }],
}, { actor: '%(owner)s' })
for (const item of ['bread', 'butter', 'jam']) {
  doc = Automerge.change(doc, d => { d.items.push({ text: item, done: false }) })
}
put('stored', Automerge.save(doc))
const edited = (from, actor, edit) =>
  Automerge.change(Automerge.clone(from, { actor }), edit)
const change = (from, actor, edit) =>
  Automerge.getLastLocalChange(edited(from, actor, edit))
const push = item => d => { d.items.push({ text: item, done: false }) }

put('insert', change(doc, '%(attacker)s',
  d => Automerge.splice(d, ['items', 0, 'text'], 1, 0, 'Z')))
put('toggle1', change(doc, '%(attacker)s', d => { d.items[1].done = true }))
put('toggle3', change(doc, '%(attacker)s', d => { d.items[3].done = true }))
put('text_of_item1', text(Automerge.getObjectId(doc.items[1], 'text')))
put('genuine', change(doc, '%(honest)s', push('%(genuine)s')))

const withFirst = edited(doc, '%(twin)s', push('%(first)s'))
put('first', Automerge.getLastLocalChange(withFirst))
put('second', change(doc, '%(twin)s', push('%(second)s')))
put('genuine_after_first', change(withFirst, '%(honest)s', push('%(genuine)s')))
process.stdout.write(JSON.stringify(out))
"""

MAKE_TEXT_BOMB = """
import * as Automerge from '@automerge/automerge'
const stored = new Uint8Array(Buffer.from('%(stored)s', 'base64'))
const doc = Automerge.clone(Automerge.load(stored), { actor: '%(attacker)s' })
const bombed = Automerge.change(doc, d =>
  Automerge.splice(d, ['items', 0, 'text'], 0, 0, 'x'.repeat(%(count)d)))
const change = Automerge.getLastLocalChange(bombed)
process.stdout.write(JSON.stringify({ bomb: Buffer.from(change).toString('base64') }))
"""

NAMES = dict(
    owner=ACTOR_OWNER,
    attacker=ACTOR_ATTACKER,
    twin=ACTOR_TWIN,
    honest=ACTOR_HONEST,
    genuine=GENUINE_TEXT,
    first=FIRST_TEXT,
    second=SECOND_TEXT,
)


def one_op(change):
    """``change`` itself, after checking it is one change chunk of one op."""
    [parsed] = parse_chunks(change)
    assert parsed.op_count == 1, parsed.op_count
    return change


def poisoned_insert(change):
    """One-op insert ``change`` rewritten to follow element 99999@<its key actor>."""
    return with_column(one_op(change), KEY_CTR, write_sleb(-1) + write_sleb(99999))


def wrong_object(change, obj_ctr):
    """One-op ``change`` rewritten to work on object ``obj_ctr``@<its obj actor>."""
    return with_column(one_op(change), OBJ_CTR, write_sleb(1) + write_uleb(obj_ctr))


def bad_pred(change):
    """One-op overwrite ``change`` whose predecessor is rewritten to 9999@<actor>."""
    return with_column(one_op(change), PRED_CTR, write_sleb(-1) + write_sleb(9999))


def make_attacks():
    """The stored document, the genuine edits and the crafted uploads, as bytes."""
    made = run_script(MAKE_ATTACKS % NAMES)
    text_ctr = int(made.pop("text_of_item1").decode().split("@")[0])
    made["poisoned_insert"] = poisoned_insert(made["insert"])
    made["op_on_a_text"] = wrong_object(made["toggle1"], text_ctr)
    made["op_on_a_missing_object"] = wrong_object(made["toggle1"], 99999)
    made["bad_pred"] = bad_pred(made["toggle3"])
    return made


def make_text_bomb(stored):
    """A compressed change on ``stored`` inserting ``BOMB_CHARACTERS`` characters."""
    source = MAKE_TEXT_BOMB % dict(
        stored=base64.b64encode(stored).decode(),
        attacker=ACTOR_ATTACKER,
        count=BOMB_CHARACTERS,
    )
    change = run_script(source)["bomb"]
    [parsed] = parse_chunks(change)
    assert parsed.op_count == BOMB_CHARACTERS, parsed.op_count  # one per character
    return compressed(change)


MAKE_EDITS = """
import * as Automerge from '@automerge/automerge'
const stored = new Uint8Array(Buffer.from('%(stored)s', 'base64'))
const out = {}
for (let i = 0; i < %(count)d; i++) {
  const actor = (i + 16).toString(16).padStart(2, '0').repeat(16)
  const doc = Automerge.clone(Automerge.load(stored), { actor })
  const edited = Automerge.change(doc, d => {
    d.items.push({ text: `edit ${i}`, done: false })
  })
  const change = Automerge.getLastLocalChange(edited)
  out[`edit ${i}`] = Buffer.from(change).toString('base64')
}
process.stdout.write(JSON.stringify(out))
"""


def make_edits(stored, count):
    """{text: change}: ``count`` genuine changes to ``stored``, each by its own actor,
    each adding an item with that text."""
    source = MAKE_EDITS % dict(stored=base64.b64encode(stored).decode(), count=count)
    return run_script(source)


APPLY_IN_AUTOMERGE = """
import * as Automerge from '@automerge/automerge'
import fs from 'node:fs'
const bytes = b64 => new Uint8Array(Buffer.from(b64, 'base64'))
const { stored, uploads } = JSON.parse(fs.readFileSync(0, 'utf8'))
const verdicts = {}
for (const [name, upload] of Object.entries(uploads)) {
  let doc
  try {
    doc = Automerge.loadIncremental(Automerge.load(bytes(stored)), bytes(upload))
  } catch (error) {
    verdicts[name] = `apply: ${error}`
    continue
  }
  try {
    const again = Automerge.load(Automerge.save(doc))
    const same = JSON.stringify(Automerge.getHeads(again).sort()) ===
      JSON.stringify(Automerge.getHeads(doc).sort())
    verdicts[name] = same ? 'ok' : 'reload: other heads'
  } catch (error) {
    verdicts[name] = `reload: ${error}`
  }
}
process.stdout.write(JSON.stringify(verdicts))
"""


def verdicts_of_automerge(stored, uploads):
    """What the real Automerge (JS) makes of each upload applied to ``stored``.

    Returns ``{name: "ok" | "apply: <error>" | "reload: <error>"}``: "apply" if
    loading the upload onto the document throws (a panic is a PanicError), and
    "reload" if the document it makes does not survive save() -> load().
    """
    payload = {
        "stored": base64.b64encode(stored).decode(),
        "uploads": {k: base64.b64encode(v).decode() for k, v in uploads.items()},
    }
    done = subprocess.run(
        ["node", "--input-type=module", "-e", APPLY_IN_AUTOMERGE],
        cwd=ROOT,
        input=json.dumps(payload).encode(),
        capture_output=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)
