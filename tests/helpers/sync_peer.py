"""A sync peer for tests (real Automerge, ``automerge.core``), frames that store,
and a Bloom filter false positive to sync through."""

from automerge.core import Document, Message, SyncState

from tests.automerge_node import run_script
from todos import tab_sync
from todos.automerge_format.sync import read_sync_message


class SyncPeer:
    """One replica that speaks Automerge's sync protocol with one other peer."""

    def __init__(self, data=b""):
        self.doc = Document.load(data) if data else Document()
        self.state = SyncState()

    def heads(self):
        """The replica's heads as sorted hex strings."""
        return sorted(head.hex() for head in self.doc.get_heads())

    def generate(self):
        """The next sync message to send (bytes), or None when there is nothing."""
        message = self.doc.generate_sync_message(self.state)
        return None if message is None else message.encode()

    def receive(self, data):
        """Take a sync message from the other peer."""
        self.doc.receive_sync_message(self.state, Message.decode(data))


def could_store(frame):
    """True for a WebSocket frame from a tab that could store a document: an
    upload of Automerge bytes, or a sync message that carries changes (one that
    only says what the tab holds stores nothing)."""
    if not isinstance(frame, bytes):
        return False
    if tab_sync.is_sync_message(frame):
        return bool(read_sync_message(frame).changes)
    return True


def bloom_false_positive():
    """``{"server": bytes, "tab": bytes}``: a stored list, and a tab's copy with
    two offline changes where the server's Bloom filter wrongly claims the
    first (at this change time, found by search; the script checks it still
    does), so the tab first sends only the change built on it."""
    return run_script(FALSE_POSITIVE)


FALSE_POSITIVE = """
import * as A from '@automerge/automerge';
import { todoDocument } from './static/todos/doc.js';
const todos = todoDocument(A);
const add = (doc, text, time) =>
  A.change(doc, { time }, (d) => { d.items.push({ text, done: false }); });
const as = (doc, actor) => A.clone(doc, { actor: actor.repeat(16) });
const base = add(as(todos.create(), 'aa'), 'shared item', 1000);
const server = add(as(base, 'cc'), 'alice offline', 2000);
let tab = add(as(base, 'bb'), 'bob offline', 3054);
tab = add(tab, 'bob offline 2', 3054);
let ts = A.initSyncState(), ss = A.initSyncState(), m;
[ts, m] = A.generateSyncMessage(tab, ts);
[, ss] = A.receiveSyncMessage(A.clone(server), ss, m);
[ss, m] = A.generateSyncMessage(server, ss);
[, ts] = A.receiveSyncMessage(A.clone(tab), ts, m);
[ts, m] = A.generateSyncMessage(tab, ts);
let sent = A.clone(server);
for (const change of A.decodeSyncMessage(m).changes) {
  sent = A.loadIncremental(sent, change);
}
if (A.getMissingDeps(sent, []).length === 0) {
  throw new Error('no false positive at this time any more');
}
const b64 = (bytes) => Buffer.from(bytes).toString('base64');
console.log(JSON.stringify({ server: b64(A.save(server)), tab: b64(A.save(tab)) }));
"""
