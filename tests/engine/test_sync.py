"""The sync protocol in the engine: per-peer states beside the warm document.

A Python ``automerge.core`` document plays the remote peer; the "server" keeps
its bytes as storage does (applying a peer's chunks with ``engine.apply``
before ``engine.sync_receive``), so these tests follow the consumer's order.
"""

import pytest
from automerge.core import ROOT, Document, Message, ScalarType, SyncState

from todos import engine
from todos.automerge_format.sync import read_sync_message
from todos.engine import sync as engine_sync


class Server:
    """The stored bytes and heads of one document, written as storage writes."""

    def __init__(self, doc_id):
        self.doc_id = doc_id
        self.stored = b""
        self.heads = []

    def write(self, body):
        applied = engine.apply(self.doc_id, self.heads, body, lambda: self.stored)
        self.stored += b"".join(change.data for change in applied.changes)
        self.heads = applied.heads

    def receive(self, peer, message):
        chunks = read_sync_message(message).changes
        if chunks:
            self.write(b"".join(chunks))
        return engine.sync_receive(
            self.doc_id, self.heads, lambda: self.stored, peer, message
        )

    def generate(self, peer):
        return engine.sync_generate(self.doc_id, self.heads, lambda: self.stored, peer)


def put(doc, key, value):
    with doc.transaction() as tx:
        tx.put(ROOT, key, ScalarType.Str, value)


def sync(server, peer_name, peer_doc, peer_state, first=None):
    """Exchange messages until neither side has anything to say; count rounds."""
    outgoing = first
    for rounds in range(20):
        message = peer_doc.generate_sync_message(peer_state)
        replies = [server.receive(peer_name, message.encode())] if message else []
        if outgoing is not None:
            replies.append(outgoing)
            outgoing = None
        replies = [reply for reply in replies if reply is not None]
        if message is None and not replies:
            return rounds
        for reply in replies:
            peer_doc.receive_sync_message(peer_state, Message.decode(reply))
    raise AssertionError("the sync did not settle in 20 rounds")


def heads_of(doc):
    return sorted(head.hex() for head in doc.get_heads())


@pytest.fixture
def fresh_engine():
    engine.shutdown()
    yield
    engine.shutdown()


def test_a_peer_and_the_server_converge_both_ways(fresh_engine):
    server = Server("sync-both-ways")
    alice = Document()
    put(alice, "from_alice", "a")
    state = SyncState()

    sync(server, "alice", alice, state)
    assert server.heads == heads_of(alice)

    other = Document.load(server.stored)
    put(other, "from_server", "s")
    server.write(other.get_last_local_change().raw_bytes)
    sync(server, "alice", alice, state, first=server.generate("alice"))

    assert heads_of(alice) == server.heads
    assert alice.get(ROOT, "from_server")[0][1] == "s"


def test_losing_the_engine_and_its_sync_states_resyncs_from_a_fresh_state(
    fresh_engine,
):
    server = Server("sync-lost-state")
    alice = Document()
    put(alice, "one", "1")
    state = SyncState()
    sync(server, "alice", alice, state)

    engine.shutdown()  # the engine process and every sync state in it are gone
    put(alice, "two", "2")
    writer = Document.load(server.stored)
    put(writer, "three", "3")
    server.write(writer.get_last_local_change().raw_bytes)
    sync(server, "alice", alice, state, first=server.generate("alice"))

    assert heads_of(alice) == server.heads
    stored = Document.load(server.stored)
    assert [stored.get(ROOT, key)[0][1] for key in ("one", "two", "three")] == [
        "1",
        "2",
        "3",
    ]


def test_a_message_the_engine_cannot_read_is_refused():
    with pytest.raises(engine.Refused):
        engine.sync_receive("sync-garbage", [], lambda: b"", "p", b"\x42\x01")


def test_sync_states_are_bounded_in_count(monkeypatch):
    monkeypatch.setattr(engine_sync, "MAX_STATES", 2)
    monkeypatch.setattr(engine_sync, "_states", type(engine_sync._states)())
    message = Document().generate_sync_message(SyncState()).encode()

    for peer in ("a", "b", "c"):
        assert (
            engine_sync.receive("sync-bounded", [], b"", peer, message)[0] == "synced"
        )

    assert list(engine_sync._states) == [("sync-bounded", "b"), ("sync-bounded", "c")]
    engine_sync.forget("sync-bounded", "c")
    assert list(engine_sync._states) == [("sync-bounded", "b")]
