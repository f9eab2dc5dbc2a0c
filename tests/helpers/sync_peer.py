"""A sync peer for tests (real Automerge, ``automerge.core``), and frames that store."""

from automerge.core import Document, Message, SyncState

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
