"""The WebSocket endpoint /automerge-repo: automerge-repo clients sync with the server.

An unmodified ``@automerge/automerge-repo`` Repo with the WebSocket client
adapter connects here (see ``repo_protocol`` for the frames). Document ids are
the app's list ids, unchanged (docs/architecture.md). For each sync message:

1. the changes it carries are stored through ``storage.write_document``, like
   any upload: validation, the document's lock, the push to the app's own tabs
   (and to every other socket, in any process, through the channel layer);
2. the engine takes the message into this socket's sync state for the document
   (``engine.sync_receive``, kept in the engine process) and generates the
   reply from what is stored now.

Changes whose dependencies the server lacks are held for the socket and
document, not dropped, and written again with its next sync message for that
document (as ``todos/tab_sync.py`` does, where the docstring says why: a peer's
sync state never sends a change twice). A message whose changes are otherwise
refused is answered with an ``error`` and leaves both the stored document and
the sync state as they were. A write committed by
anyone else makes the engine generate a sync message for this peer
(``doc_updated``).
"""

import json

from . import engine, ratelimit, storage
from .automerge_format import FormatError
from .automerge_format.sync import read_sync_message
from .repo_protocol import (
    DOC_TYPES,
    MAX_DOCUMENTS,
    PROTOCOL_VERSION,
    SERVER_PEER_ID,
    ProtocolError,
    decode_frame,
    encode_frame,
)
from .socket_base import SocketConsumer
from .sync_calls import (
    forget_sync_state,
    generate_sync,
    receive_sync,
    store_sync_changes,
    stored_heads,
)

VIA = "automerge-repo"


class RepoSyncConsumer(SocketConsumer):
    """One automerge-repo peer, syncing any number of documents (up to a bound)."""

    async def connect(self):
        self.peer_id = None
        self.documents = set()
        self.held = {}  # doc_id -> sync_calls.Held: changes missing dependencies
        self.client = ratelimit.address_of_scope(self.scope)
        await self.accept()

    async def disconnect(self, code):
        await self.unfollow_all()

    async def unfollow_all(self):
        """Leave every document's group and drop this socket's sync states."""
        for doc_id in self.documents:
            await self.channel_layer.group_discard(
                storage.group_name(doc_id), self.channel_name
            )
            await forget_sync_state(doc_id, self.channel_name)
        self.documents = set()
        self.held = {}

    async def receive(self, text_data=None, bytes_data=None):
        if bytes_data is None:
            await self.send_error("Text frames are not understood here: send CBOR.")
            return
        try:
            message = decode_frame(bytes_data)
        except ProtocolError as exc:
            await self.send_error(str(exc))
            return
        if message["type"] == "join":
            await self.join(message)
        elif self.peer_id is None:
            await self.send_error("Send a join message first.")
        elif message["senderId"] != self.peer_id:
            await self.send_error(
                f"senderId {message['senderId'][:80]!r} is not the peer that joined "
                f"on this socket ({self.peer_id!r})."
            )
        elif message["type"] in DOC_TYPES:
            await self.sync(message)
        # Other repo messages (ephemeral, remote heads) are not kept or relayed.

    async def join(self, message):
        if PROTOCOL_VERSION not in message["supportedProtocolVersions"]:
            await self.send_error(
                f"This server speaks protocol version {PROTOCOL_VERSION!r} only.",
                target=message["senderId"],
            )
            await self.close()
            return
        if self.peer_id not in (None, message["senderId"]):
            await self.unfollow_all()  # another peer now: its states start afresh
        self.peer_id = message["senderId"]
        await self.send_message(
            {
                "type": "peer",
                "peerMetadata": {"isEphemeral": False},
                "selectedProtocolVersion": PROTOCOL_VERSION,
            }
        )

    async def sync(self, message):
        """Store what a request or sync message carries, then answer it."""
        doc_id, data = message["documentId"], message["data"]
        try:
            storage.check_doc_id(doc_id)
            chunks = read_sync_message(data).changes
        except (storage.StorageError, FormatError) as exc:
            await self.send_error(getattr(exc, "message", None) or str(exc))
            return
        if doc_id not in self.documents and len(self.documents) >= MAX_DOCUMENTS:
            await self.send_error(
                f"This socket syncs {MAX_DOCUMENTS} documents already: open "
                "another socket for more.",
                doc_id,
            )
            return
        heads = None
        if chunks or doc_id in self.held:
            heads = await self.store_changes(doc_id, chunks)
            if heads is None:
                return
        if heads is None:
            heads = await stored_heads(doc_id)
        await self.follow(doc_id)
        try:
            reply = await receive_sync(doc_id, heads or [], self.channel_name, data)
        except (engine.Refused, engine.EngineUnavailable, storage.StorageError) as exc:
            await self.send_error(f"The sync message was not taken: {exc}", doc_id)
            return
        if heads is None and message["type"] == "request":
            # Nobody stored it (yet): say so. The socket follows the document
            # all the same, so the peer is sent the list once someone writes it.
            await self.send_message({"type": "doc-unavailable", "documentId": doc_id})
            return
        await self.send_sync(doc_id, reply)

    async def store_changes(self, doc_id, chunks):
        """Store the changes ``chunks``; return the stored heads, or None if refused.

        Changes whose dependencies the server lacks are held (``self.held``)
        for the next message (``sync_calls.store_sync_changes``); the sync
        reply asks for what is missing.
        """
        refused = await ratelimit.refuse_frame(self.scope, self.client)
        if refused is not None:
            await self.send_error(json.loads(refused)["error"], doc_id)
            return None
        try:
            return await store_sync_changes(
                self.held, doc_id, chunks, self.channel_name, self.client, VIA
            )
        except storage.StorageError as exc:
            await self.send_error(exc.message, doc_id)
            return None

    async def follow(self, doc_id):
        """Join the document's group, so writes from anywhere reach this peer."""
        if doc_id not in self.documents:
            self.documents.add(doc_id)
            await self.channel_layer.group_add(
                storage.group_name(doc_id), self.channel_name
            )

    async def doc_updated(self, event):
        """A committed write: send the peer what it lacks, unless it sent it."""
        if event["sender"] == self.channel_name or not event["data"]:
            return
        doc_id = event["doc_id"]
        try:
            message = await generate_sync(doc_id, event["heads"], self.channel_name)
        except (engine.Refused, engine.EngineUnavailable, storage.StorageError):
            return  # the peer's next message, or the next write, resyncs it
        await self.send_sync(doc_id, message)

    async def send_sync(self, doc_id, data):
        if data is not None:
            await self.send_message(
                {"type": "sync", "documentId": doc_id, "data": data}
            )

    async def send_message(self, message):
        message = {"senderId": SERVER_PEER_ID, **message}
        if self.peer_id is not None:
            message["targetId"] = self.peer_id
        await self.send(bytes_data=encode_frame(message))

    async def send_error(self, text, doc_id=None, target=None):
        """Report a refused frame as the protocol's error message; the socket stays."""
        message = {"type": "error", "message": text}
        if doc_id is not None:
            message["documentId"] = doc_id
        if target is not None and self.peer_id is None:
            message["targetId"] = target
        await self.send_message(message)
