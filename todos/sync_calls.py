"""The database-thread calls of the two sync endpoints, for their consumers.

``todos/tab_sync.py`` (the tab socket with ``?sync=1``) and
``todos/repo_consumer.py`` (``/automerge-repo``) both read the stored heads,
store the changes a sync message carries and keep a sync state per socket in
the engine; these are those calls, wrapped for an async consumer.

Public API: ``stored_heads``, ``write_document``, ``Held``, ``store_sync_changes``,
``receive_sync``, ``generate_sync``, ``forget_sync_state``.
"""

import time
from typing import NamedTuple

from channels.db import database_sync_to_async

from . import engine, storage, writelog
from .models import Document

__all__ = [
    "stored_heads",
    "write_document",
    "Held",
    "store_sync_changes",
    "receive_sync",
    "generate_sync",
    "forget_sync_state",
]


@database_sync_to_async
def stored_heads(doc_id):
    """The stored heads of ``doc_id``, sorted, or None when nothing is stored."""
    with storage.database_available():
        row = (
            Document.objects.filter(doc_id=doc_id, chunk_count__gt=0)
            .values_list("heads", flat=True)
            .first()
        )
    return None if row is None else sorted(row)


@database_sync_to_async
def write_document(doc_id, data, sender, client):
    """Store ``data`` as an upload from socket ``sender`` (storage.write_document)."""
    return storage.write_document(doc_id, data, sender=sender, client=client)


class Held(NamedTuple):
    """Changes of a socket waiting for what they build on, and the heads stored
    when they were last refused."""

    body: bytes
    heads: list


async def store_sync_changes(held, doc_id, chunks, sender, client, via):
    """Store the changes ``chunks`` of a sync message; return the stored heads, sorted.

    Changes whose dependencies the server lacks are not stored but held in
    ``held[doc_id]`` (a dict per socket), to be sent again with the socket's next
    message for the document: Automerge's sync protocol never sends a change
    twice, so one dropped here would never arrive (``todos/tab_sync.py`` says
    when that happens). Those return the stored heads, and the sync reply then
    asks for what is missing. A message with no changes retries what is held
    only if something was stored since it was refused (the stored heads
    moved); otherwise the outcome would be the same refusal. Any other refusal
    raises its ``StorageError`` and drops what was held. Every attempt is
    logged (``writelog``) as from ``via``.
    """
    waiting = held.get(doc_id)
    if not chunks:
        heads = await stored_heads(doc_id) or []
        if waiting is None or heads == waiting.heads:
            return heads
    body = (waiting.body if waiting else b"") + b"".join(chunks)
    started = time.perf_counter()
    held.pop(doc_id, None)
    try:
        result = await write_document(doc_id, body, sender, client)
    except storage.MissingDependencies:
        writelog.log_write(doc_id, len(body), 409, False, started, via, client)
        heads = await stored_heads(doc_id) or []
        held[doc_id] = Held(body, heads)
        return heads
    except storage.StorageError as exc:
        writelog.log_write(doc_id, len(body), exc.status, False, started, via, client)
        raise
    writelog.log_write(doc_id, len(body), 200, result.changed, started, via, client)
    return sorted(result.heads)


@database_sync_to_async
def receive_sync(doc_id, heads, peer, data):
    """Take sync message ``data`` into ``peer``'s state at ``heads``; the reply."""
    return engine.sync_receive(
        doc_id, sorted(heads), lambda: storage.stored_bytes(doc_id), peer, data
    )


@database_sync_to_async
def generate_sync(doc_id, heads, peer):
    """The next sync message for ``peer`` at ``heads`` (None if nothing to say)."""
    return engine.sync_generate(
        doc_id, sorted(heads), lambda: storage.stored_bytes(doc_id), peer
    )


@database_sync_to_async
def forget_sync_state(doc_id, peer):
    """Drop ``peer``'s sync state for ``doc_id``."""
    try:
        engine.sync_forget(doc_id, peer)
    except engine.EngineUnavailable:
        pass  # the process, and the state with it, is gone already
