"""Server-side compaction: many chunks become one save, and no write is ever lost."""

import http.client
import threading

import pytest

from tests import automerge_node
from todos import engine, storage
from todos.models import Document
from todos.storage import compaction

pytestmark = pytest.mark.django_db(transaction=True)

DOC = "compacted"
WRITERS = 4
EDITS = 6

MAKE = f"""
import * as Automerge from '@automerge/automerge'
const b64 = bytes => Buffer.from(bytes).toString('base64')
const out = {{}}
const start = {{ title: 'Race', items: [] }}
const base = Automerge.from(start, {{ actor: 'ee'.repeat(16) }})
out.base = b64(Automerge.save(base))
for (let w = 0; w < {WRITERS}; w++) {{
  let doc = Automerge.clone(base, {{ actor: String(w + 1).repeat(32) }})
  for (let e = 0; e < {EDITS}; e++) {{
    const text = `w${{w}} e${{e}} ✓ 日本`
    doc = Automerge.change(doc, d => {{ d.items.push({{ text, done: false }}) }})
    out[`w${{w}}e${{e}}`] = b64(Automerge.getLastLocalChange(doc))
  }}
}}
process.stdout.write(JSON.stringify(out))
"""


@pytest.fixture(scope="module")
def made():
    return automerge_node.run_script(MAKE)


def stored():
    return storage.read_document(DOC).data


def texts(data):
    return sorted(item["text"] for item in automerge_node.inspect(data)["doc"]["items"])


def every_edit():
    return sorted(f"w{w} e{e} ✓ 日本" for w in range(WRITERS) for e in range(EDITS))


def test_compaction_keeps_the_same_json_and_heads_for_javascript(made):
    storage.write_document(DOC, made["base"])
    for e in range(EDITS):
        storage.write_document(DOC, made[f"w0e{e}"])
    before = automerge_node.inspect(stored())
    assert Document.objects.get(doc_id=DOC).chunk_count == EDITS + 1

    assert compaction.compact_document(DOC)

    after = automerge_node.inspect(stored())
    assert after["doc"] == before["doc"] and after["heads"] == before["heads"]
    document = Document.objects.get(doc_id=DOC)
    assert document.chunk_count == 1 and document.size == len(stored())
    assert sorted(document.heads) == sorted(after["heads"])


def test_a_write_between_the_save_and_the_lock_wins_over_compaction(made, monkeypatch):
    storage.write_document(DOC, made["base"])
    storage.write_document(DOC, made["w0e0"])
    real_save = engine.save

    def save_then_someone_writes(doc_id, heads, read_stored):
        saved = real_save(doc_id, heads, read_stored)
        storage.write_document(DOC, made["w1e0"])  # lands after the save was made
        return saved

    monkeypatch.setattr(engine, "save", save_then_someone_writes)

    assert not compaction.compact_document(DOC)

    assert Document.objects.get(doc_id=DOC).chunk_count == 3
    assert texts(stored()) == ["w0 e0 ✓ 日本", "w1 e0 ✓ 日本"]


@pytest.mark.live
def test_concurrent_writers_during_server_compaction_lose_nothing(
    made, live_server_factory
):
    # A live Daphne compacting after every second chunk, in its background
    # thread, while four clients upload their edits at once.
    server = live_server_factory(TODOS_COMPACT_AFTER_CHUNKS=2)
    assert put(server, made["base"])[0] == 200
    statuses = []

    def writer(w):
        for e in range(EDITS):
            statuses.append(put(server, made[f"w{w}e{e}"])[0])

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * (WRITERS * EDITS)
    assert texts(get(server)) == every_edit()
    assert "Compacted" in server.log_path.read_text()
    assert "Traceback" not in server.log_path.read_text()


def put(server, body):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request("PUT", f"/docs/{DOC}", body=body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def get(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request("GET", f"/docs/{DOC}")
        return connection.getresponse().read()
    finally:
        connection.close()


def test_a_write_past_the_threshold_queues_a_compaction(made, settings):
    settings.TODOS_COMPACT_AFTER_CHUNKS = 3
    settings.TODOS_COMPACT_IN_BACKGROUND = False
    storage.write_document(DOC, made["base"])
    for e in range(3):
        result = storage.write_document(DOC, made[f"w2e{e}"])

    # The third change made four chunks; after its commit they became one.
    assert result.chunk_count == 4
    assert Document.objects.get(doc_id=DOC).chunk_count == 1
    assert len(texts(stored())) == 3
