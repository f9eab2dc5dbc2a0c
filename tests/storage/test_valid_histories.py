"""Real Automerge histories are accepted, however a client uploads them.

The server refuses semantically invalid uploads (``automerge_format/semantics.py``
and ``storage._Merge._check_objects``). A false refusal, a valid change refused
with 400 or 409, means a user's edit never reaches anyone, so this is the
differential check against the real ``@automerge/automerge``:
``tests/node/random_histories.mjs`` builds a random history of 2-5 actors from a
seed (inserts at the front, middle and end, deletes, moves, collaborative text
with marks, counters, nested maps and lists, conflicting writes, concurrent
inserts, forks, merges, reloads from ``save()``, ``changeAt``) and several upload
plans for it: each change alone, random batches, what the browser sends
(``saveSince``/``saveIncremental``, now and then a ``save()``), a ``save()``
followed by the rest, compacting ``save()``s arriving between changes, and every
actor's ``save()``. Each plan goes through ``storage.write_document`` into a fresh
document; every upload must be accepted, and the stored bytes must load in Node
with the heads and the JSON (with text marks) of the final merged document. One
plan for a few seeds also goes through the HTTP view.

Found so far, and fixed (the last three tests are the smallest examples): the
independent reader (``todos/reference.py``, PyPI ``automerge`` 0.1.2, called by
``storage.check_with_reference``) refused with 400 every document chunk that
holds an empty change (``Automerge.emptyChange``:
``InvalidChanges(ChangesOutOfOrder)``) or a mark op (``Automerge.mark``:
``UnknownAction(7)`` / ``InvalidAction``), and every self-contained set of
changes with a mark, so such a list could never be compacted and the ``save()``
a client sends after a 409 was refused too. Such chunks now skip that reader
(``storage.newer_than_reference``). It still cannot vouch for a dependency inside
a stored save that holds them, so a change on one gets the usual 409 and the
client's ``save()``; the histories with marks follow that rule. The main test
leaves marks and empty changes out of its histories so that it can find anything
else.

More seeds for a local bug hunt (the generator is deterministic, so a failing
seed reproduces exactly)::

    TODOS_HISTORY_SEEDS=500 .venv/bin/pytest tests/storage/test_valid_histories.py -q
    TODOS_HISTORY_SEEDS=1000 TODOS_HISTORY_FIRST_SEED=500 ...  # seeds 500-1499
"""

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.test import Client

from tests import automerge_node
from todos import storage
from todos.models import Document

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "node" / "random_histories.mjs"
OCTETS = "application/octet-stream"

FIRST_SEED = int(os.environ.get("TODOS_HISTORY_FIRST_SEED", "0"))
SEED_COUNT = int(os.environ.get("TODOS_HISTORY_SEEDS", "30"))
SEEDS = range(FIRST_SEED, FIRST_SEED + SEED_COUNT)
STEPS = int(os.environ.get("TODOS_HISTORY_STEPS", "50"))  # random steps per history
HTTP_SEEDS = list(SEEDS)[:: max(1, SEED_COUNT // 4)]
HTTP_PLAN = "browser"
FULL_SEEDS = range(FIRST_SEED, FIRST_SEED + max(1, SEED_COUNT // 8))

pytestmark = pytest.mark.django_db


def node(*args, payload=None):
    """Run random_histories.mjs; return its JSON output."""
    done = subprocess.run(
        ["node", str(SCRIPT), *map(str, args)],
        cwd=ROOT,
        input=payload,
        capture_output=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"random_histories.mjs {args[0]} failed: {done.stderr.decode()[-3000:]}"
        )
    return json.loads(done.stdout)


def generate(*args):
    if shutil.which("node") is None:
        pytest.skip("node is not installed; run `make setup` (Node 20 and npm ci)")
    return {int(seed): h for seed, h in node("generate", *args).items()}


@pytest.fixture(scope="module")
def histories():
    """{seed: history} for SEEDS, made by one Node process.

    Without marks and empty changes: the independent reader refuses every
    document that holds one (see the tests at the end), and that would hide
    anything else these histories find.
    """
    return generate("--no-marks", "--no-empty", STEPS, *SEEDS)


@pytest.fixture(scope="module")
def full_histories():
    """{seed: history} for FULL_SEEDS, with marks and empty changes too."""
    return generate(STEPS, *FULL_SEEDS)


def load_in_node(stored):
    """{key: {"heads", "doc"} or {"error"}} for {key: bytes}, in one Node process."""
    payload = {key: base64.b64encode(data).decode() for key, data in stored.items()}
    return node("load", payload=json.dumps(payload).encode())


def describe(seed, plan, index, history, detail):
    return (
        f"seed {seed}, plan {plan!r}, upload {index} of "
        f"{len(history['plans'][plan])} ({history['changes']} changes, "
        f"{history['actors']} actors): {detail}"
    )


def upload_all(seed, plan, history, send):
    """Send each upload of ``plan`` with ``send(body)``; return the problems."""
    for index, encoded in enumerate(history["plans"][plan]):
        problem = send(base64.b64decode(encoded))
        if problem:
            return [describe(seed, plan, index, history, problem)]
    return []


def check_stored(seed, history, doc_ids, problems):
    """Load each plan's stored document in Node; compare with the final document."""
    stored = {}
    for plan, doc_id in doc_ids.items():
        document = storage.read_document(doc_id)
        if document is None:
            problems.append(f"seed {seed}, plan {plan!r}: nothing stored")
            continue
        stored[plan] = document.data
        heads = storage.document_heads(doc_id)
        if heads != history["heads"]:
            problems.append(
                f"seed {seed}, plan {plan!r}: the server reports heads {heads}, "
                f"the history's heads are {history['heads']}"
            )
    for plan, loaded in load_in_node(stored).items():
        if "error" in loaded:
            problems.append(
                f"seed {seed}, plan {plan!r}: the stored bytes do not load in "
                f"Automerge: {loaded['error']}"
            )
            continue
        if loaded["heads"] != history["heads"]:
            problems.append(
                f"seed {seed}, plan {plan!r}: stored heads {loaded['heads']}, "
                f"expected {history['heads']}"
            )
        elif loaded["doc"] != history["doc"]:
            problems.append(
                f"seed {seed}, plan {plan!r}: same heads but another document:\n"
                f"  stored   {json.dumps(loaded['doc'])[:400]}\n"
                f"  expected {json.dumps(history['doc'])[:400]}"
            )


def check_every_plan(seed, history, full_save_after_409=False):
    """Upload each plan of ``history`` into a fresh document; return the problems.

    With ``full_save_after_409``, a 409 is answered as a client answers it, with a
    full ``save()`` (here the final document's, which holds the client's state),
    and that save must be accepted.
    """
    problems = []
    doc_ids = {}
    for plan in history["plans"]:
        doc_id = f"h{seed}-{plan}"

        def send(body, doc_id=doc_id):
            try:
                storage.write_document(doc_id, body)
            except storage.MissingDependencies as exc:
                if not full_save_after_409:
                    return f"{type(exc).__name__} ({exc.status}): {exc.message}"
                return send(base64.b64decode(history["save"]))
            except storage.StorageError as exc:
                return f"{type(exc).__name__} ({exc.status}): {exc.message}"
            return None

        failed = upload_all(seed, plan, history, send)
        problems += failed
        if not failed:
            doc_ids[plan] = doc_id
    check_stored(seed, history, doc_ids, problems)
    return problems


@pytest.mark.parametrize("seed", SEEDS)
def test_every_upload_plan_is_accepted(histories, seed):
    problems = check_every_plan(seed, histories[seed])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("seed", FULL_SEEDS)
def test_histories_with_marks_and_empty_changes_are_accepted(full_histories, seed):
    # A change whose dependency lies inside a stored save() is vouched for by the
    # independent reader, which cannot read marks or empty changes: the server
    # answers 409 and the client sends its save(), as for any unknown dependency.
    problems = check_every_plan(seed, full_histories[seed], full_save_after_409=True)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("seed", HTTP_SEEDS)
def test_the_browser_plan_through_http(histories, seed):
    history = histories[seed]
    client = Client()
    doc_id = f"http{seed}"
    acks = []

    def send(body):
        response = client.put(f"/docs/{doc_id}", data=body, content_type=OCTETS)
        if response.status_code != 200:
            return f"HTTP {response.status_code}: {response.content.decode()[:1000]}"
        acks.append(response.json())
        return None

    problems = upload_all(seed, HTTP_PLAN, history, send)
    if not problems:
        assert acks[-1]["heads"] == history["heads"]
        assert Document.objects.get(doc_id=doc_id).heads == history["heads"]
        response = client.get(f"/docs/{doc_id}")
        assert response.status_code == 200
        assert response.content == storage.read_document(doc_id).data
        check_stored(seed, history, {HTTP_PLAN: doc_id}, problems)
    assert not problems, "\n".join(problems)


# --- the smallest histories the server once refused ---------------------------------

MINIMAL = """
import * as Automerge from '@automerge/automerge'
const b64 = bytes => Buffer.from(bytes).toString('base64')
const out = {}
let a = Automerge.from({ title: 'Groceries' }, { actor: 'aa'.repeat(16) })
out.first = b64(Automerge.getLastLocalChange(a))
a = Automerge.emptyChange(a)
out.empty_change = b64(Automerge.getLastLocalChange(a))
out.save_with_empty_change = b64(Automerge.save(a))
let m = Automerge.from({ title: 'Groceries' }, { actor: 'bb'.repeat(16) })
out.mark_base = b64(Automerge.save(m))
m = Automerge.change(m, d => {
  Automerge.mark(d, ['title'], { start: 0, end: 3, expand: 'both' }, 'bold', true)
})
out.mark_change = b64(Automerge.getLastLocalChange(m))
out.save_with_mark = b64(Automerge.save(m))
process.stdout.write(JSON.stringify(out))
"""


@pytest.fixture(scope="module")
def minimal():
    if shutil.which("node") is None:
        pytest.skip("node is not installed; run `make setup` (Node 20 and npm ci)")
    return automerge_node.run_script(MINIMAL)


def test_a_save_holding_an_empty_change_is_accepted(minimal):
    # Automerge.emptyChange makes a change with no ops; Automerge 3 saves and
    # loads it, but the independent reader (PyPI automerge 0.1.2) refuses the
    # document chunk with InvalidChanges(ChangesOutOfOrder), so the server
    # answered 400 to this save() until such chunks skipped that reader.
    storage.write_document("empty-save", minimal["save_with_empty_change"])
    loaded = load_in_node({"doc": storage.read_document("empty-save").data})
    assert loaded["doc"]["doc"]["value"] == {"title": "Groceries"}


def test_compaction_after_an_empty_change_is_accepted(minimal):
    # The changes alone were accepted; the compacting save() of the same
    # history was then refused, and so was the save() a client sends after a 409.
    storage.write_document("empty-compact", minimal["first"])
    storage.write_document("empty-compact", minimal["empty_change"])
    storage.write_document("empty-compact", minimal["save_with_empty_change"])
    stored = storage.read_document("empty-compact").data
    assert (
        automerge_node.inspect(stored)["heads"]
        == automerge_node.inspect(minimal["save_with_empty_change"])["heads"]
    )


def test_a_save_holding_a_mark_is_accepted(minimal):
    # Automerge.mark writes mark ops (action 7), which the independent reader
    # does not know: UnknownAction(7) / InflateDocument(InvalidAction), a 400
    # until such chunks skipped that reader.
    storage.write_document("mark-save", minimal["mark_base"])
    storage.write_document("mark-save", minimal["mark_change"])  # accepted
    storage.write_document("mark-save", minimal["save_with_mark"])  # compaction
    storage.write_document("mark-save-2", minimal["save_with_mark"])
    loaded = load_in_node({"doc": storage.read_document("mark-save-2").data})
    assert loaded["doc"]["doc"]["marks"] == {
        "title": [{"name": "bold", "value": True, "start": 0, "end": 3}]
    }
