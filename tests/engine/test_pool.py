"""Engine processes: calls run elsewhere, and a stuck or dead one is replaced."""

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from automerge.core import ROOT as ROOT_MAP
from automerge.core import Document, ScalarType

from tests import automerge_node
from todos.engine import pool as engine_pool

ROOT = Path(__file__).resolve().parents[2]

BIG = """
import * as Automerge from '@automerge/automerge'
const b64 = bytes => Buffer.from(bytes).toString('base64')
const start = { items: [{ text: '', done: false }] }
let doc = Automerge.from(start, { actor: 'ab'.repeat(16) })
doc = Automerge.change(doc, d => {
  Automerge.splice(d, ['items', 0, 'text'], 0, 0, 'x'.repeat(2000000))
})
process.stdout.write(JSON.stringify({ big: b64(Automerge.save(doc)) }))
"""


@pytest.fixture
def pool():
    engines = engine_pool.Pool(workers=1, timeout=30)
    yield engines
    engines.shutdown()


def test_a_call_runs_in_another_process(pool):
    outcome = pool.call("doc", "apply", [], b"", b"", False)

    assert outcome == ("applied", [], [], None)


def test_a_call_past_the_time_limit_costs_its_process_and_the_next_call_works(pool):
    big = automerge_node.run_script(BIG)["big"]  # seconds of engine work

    with pytest.raises(engine_pool.EngineTimeout, match="more than 0.2 seconds"):
        pool.call("doc", "apply", [], b"", big, True, timeout=0.2)

    assert pool.call("doc", "apply", [], b"", b"", False)[0] == "applied"


def test_a_dead_process_costs_one_call_and_the_next_call_works(pool):
    pool.call("doc", "apply", [], b"", b"", False)
    (pid,) = pool.pids()
    os.kill(pid, signal.SIGKILL)

    with pytest.raises(engine_pool.EngineUnavailable, match="process stopped"):
        pool.call("doc", "apply", [], b"", b"", False)

    assert pool.call("doc", "apply", [], b"", b"", False)[0] == "applied"
    assert pool.pids() != [pid]


def test_an_error_raised_in_the_engine_process_reaches_the_caller(pool):
    with pytest.raises(AttributeError, match="no_such_function"):
        pool.call("doc", "no_such_function")

    assert pool.call("doc", "apply", [], b"", b"", False)[0] == "applied"


def test_calls_from_many_threads_each_get_their_own_answer(pool):
    documents = [small_document(number) for number in range(40)]

    def ask(number):
        return pool.call(f"doc-{number}", "save", [], documents[number])

    with ThreadPoolExecutor(8) as threads:
        answers = list(threads.map(ask, range(40)))

    for document, (outcome, saved) in zip(documents, answers, strict=True):
        assert outcome == "saved"
        assert Document.load(saved).get_heads() == Document.load(document).get_heads()


def small_document(number):
    """The save() of a document holding ``number``."""
    document = Document()
    with document.transaction() as change:
        change.put(ROOT_MAP, "number", ScalarType.Int, number)
    return document.save()


def test_documents_keep_to_one_process():
    engines = engine_pool.Pool(workers=3)
    slots = {engines.slot_of(f"list-{i}") for i in range(30)}

    assert slots == {0, 1, 2}
    assert engines.slot_of("list-7") == engines.slot_of("list-7")


def test_engine_processes_end_when_their_server_is_killed(tmp_path):
    # A server process killed with SIGKILL cannot stop its engine processes.
    script = (
        "import os, sys\n"
        "from todos.engine.pool import Pool\n"
        "pool = Pool(workers=1)\n"
        "pool.call('doc', 'apply', [], b'', b'', False)\n"
        "print(pool.pids(), flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True
    )
    (pid,) = json.loads(done.stdout)

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and running(pid):
        time.sleep(0.2)
    assert not running(pid)


def running(pid):
    """Whether process ``pid`` exists and has not ended (a zombie has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
