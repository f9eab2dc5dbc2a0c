"""Automerge's sync protocol on the tab socket: ``/ws/docs/<id>?sync=1``.

A tab that opens its socket with the query parameter ``sync=1`` is sent no
stored document on connect. Instead the tab and the server exchange Automerge
sync messages as binary frames until each holds what the other has, so a tab
that already holds the list receives only the changes it lacks, and a fresh tab
still receives everything.

Frames are told apart by their first byte: a sync message starts with 0x42
(v1) or 0x43 (v2) (``automerge_format.sync``); every other binary frame is an
upload of Automerge chunks, which start with the magic bytes 0x85 0x6f 0x4a
0x83, and is merged as before. Live pushes to other sockets stay one binary
frame per write, so sockets that do not sync keep working.

For each sync message:

1. the changes it carries are stored through ``storage.write_document``, like
   any upload (validation, the document's lock, the push to the other tabs);
   a view-only socket may send none. Changes whose dependencies the server
   lacks are held for the socket, not dropped, and stored with the next sync
   message once what they build on has arrived: Automerge's sync protocol
   assumes a peer keeps every change it was sent (the tab's sync state never
   sends a change twice), so a dropped one was never sent again and the two
   sides asked each other for it forever. That happens when the server's
   Bloom filter wrongly claims a change the tab holds (about 1% per change),
   so the tab sends only the changes built on it;
2. the engine takes the message into this socket's sync state
   (``engine.sync_receive``; the state is kept in the engine process, keyed by
   the socket's channel name and forgotten when the socket closes) and the
   reply, generated from what is stored now, is sent back.

A refused message is answered with a JSON text frame ``{"type": "error",
"sync": true, "status": n, "error": ...}`` (400 unreadable, 403 view-only, 409
history rewrite, 413 too large, 422 a change that would break the list, 429
over ``TODOS_WRITE_RATE_LIMIT``, 503 the engine or the database is busy); the
stored document stays as it was and the socket stays open. Every sync message
counts against ``TODOS_WRITE_RATE_LIMIT``, since each costs engine work.

Public API: ``wants_sync(scope)``, ``is_sync_message(data)``,
``receive(consumer, data, read_only)``, ``restart(consumer)``,
``forget(consumer)``.
"""

import json
from urllib.parse import parse_qs

from . import engine, ratelimit, storage
from .automerge_format import FormatError
from .automerge_format.sync import SYNC_MESSAGE_TYPES, read_sync_message
from .sharing import VIEW_ONLY
from .sync_calls import (
    forget_sync_state,
    generate_sync,
    receive_sync,
    store_sync_changes,
    stored_heads,
)

__all__ = ["wants_sync", "is_sync_message", "receive", "restart", "forget"]

VIA = "websocket-sync"
# Failures of the engine call that are the server's, not the message's.
ENGINE_BUSY = 503


def wants_sync(scope):
    """True if the socket was opened with ``?sync=1``."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return query.get("sync") == ["1"]


def is_sync_message(data):
    """True if binary frame ``data`` is a sync message (not an upload of chunks)."""
    return bool(data) and data[0] in SYNC_MESSAGE_TYPES


async def receive(consumer, data, read_only=False):
    """Store what sync message ``data`` carries, then send the consumer the reply."""
    refused = await ratelimit.refuse_frame(consumer.scope, consumer.client)
    if refused is not None:
        await consumer.send(text_data=json.dumps({**json.loads(refused), "sync": True}))
        return
    try:
        chunks = read_sync_message(data).changes
    except FormatError as exc:
        await send_error(
            consumer,
            f"The sync message could not be read ({exc}); send the output of "
            "Automerge.generateSyncMessage as one binary frame.",
            400,
        )
        return
    heads = None
    if chunks and read_only:
        await send_error(consumer, VIEW_ONLY, 403)
        return
    if not hasattr(consumer, "held_changes"):
        consumer.held_changes = {}  # doc_id -> Held: changes waiting for what they need
    if chunks or consumer.doc_id in consumer.held_changes:
        heads = await store_changes(consumer, chunks)
        if heads is None:
            return
    try:
        heads = heads or await stored_heads(consumer.doc_id) or []
    except storage.StorageError as exc:
        await send_error(consumer, exc.message, exc.status)
        return
    await answer(consumer, heads, data)


async def answer(consumer, heads, data):
    """Take ``data`` into the socket's sync state at ``heads``; send the reply."""
    try:
        reply = await receive_sync(consumer.doc_id, heads, consumer.channel_name, data)
    except engine.Refused as exc:
        await send_error(consumer, f"The sync message was not taken: {exc}", 400)
        return
    except engine.EngineUnavailable as exc:
        await send_error(consumer, f"The server is busy; try again ({exc}).", 503)
        return
    except storage.StorageError as exc:
        await send_error(consumer, exc.message, exc.status)
        return
    if reply is not None:
        await consumer.send(bytes_data=reply)


async def store_changes(consumer, chunks):
    """Store the changes ``chunks``; return the stored heads, or None if refused.

    Changes whose dependencies the server lacks are held for the socket
    (``sync_calls.store_sync_changes``, and this module's docstring); any other
    refusal is reported to the tab, which then uploads the ordinary way.
    """
    try:
        return await store_sync_changes(
            consumer.held_changes,
            consumer.doc_id,
            chunks,
            consumer.channel_name,
            consumer.client,
            VIA,
        )
    except storage.StorageError as exc:
        await send_error(
            consumer, exc.message, exc.status, getattr(exc, "retry_after", None)
        )
        return None


async def restart(consumer):
    """Start a new exchange: forget the socket's state and send our first message.

    Used when pushes may have been lost (the channel layer reconnected): the
    fresh state makes the engine send our heads and a summary of everything,
    and the tab answers with what either side lacks.
    """
    await forget(consumer)
    try:
        heads = await stored_heads(consumer.doc_id) or []
        message = await generate_sync(consumer.doc_id, heads, consumer.channel_name)
    except (engine.Refused, engine.EngineUnavailable, storage.StorageError):
        return  # the tab's next exchange (on its next connect) catches it up
    if message is not None:
        await consumer.send(bytes_data=message)


async def forget(consumer):
    """Drop the socket's sync state (it closed, or a new exchange starts)."""
    await forget_sync_state(consumer.doc_id, consumer.channel_name)


async def send_error(consumer, message, status, retry_after=None):
    """Report a refused sync message; the socket stays open."""
    frame = {"type": "error", "sync": True, "status": status, "error": message}
    if retry_after is not None:
        frame["retry_after"] = retry_after
    await consumer.send(text_data=json.dumps(frame))
