"""Stored documents as people read them: the list, the whole document, the history.

Used by the admin, the JSON view (``/docs/<doc_id>.json``) and ``inspect_doc``.

Public API:

- ``to_text(value) -> str``: Automerge text (a list of one-character strings, as
  the ``automerge`` package returns it) back to a string.
- ``plain(value)``: a decoded document as JSON-ready values, texts joined.
- ``Snapshot``: what a document holds (title, items, the whole document) or why
  it cannot be shown (``error``).
- ``decode(data) -> Snapshot``: decode Automerge bytes; never raises for bad data.
- ``read_snapshot(doc_id) -> (StoredDocument, Snapshot) | None``: read through the
  storage service, decode (cached by etag) and refresh the document's summary.
- ``refresh_summary(doc_id, etag, snapshot)``: store title and counts on the row.
- ``history(chunks) -> History``: per-change history of stored chunks.
- ``change_total(clock) -> int``: the number of distinct changes a clock describes.

The ``automerge`` package (0.1.2) misreads a concatenation in which one change is
stored twice (it applies the change again and the earlier state wins), which
happens when two clients' concurrent ``save()`` uploads overlap. ``decode`` then
shows the largest part of the document that holds each change once, and says so in
``Snapshot.note``; ``Automerge.load`` itself reads the stored bytes correctly.
"""

import datetime
from dataclasses import dataclass

from django.core.cache import cache

from .. import storage
from ..automerge_format import FormatError, parse_chunks
from ..models import Document
from .snapshot import (  # noqa: F401 (re-exported)
    Snapshot,
    change_time,
    change_total,
    decode,
    normalise,
    plain,
    to_text,
)

__all__ = [
    "Snapshot",
    "History",
    "ChunkHistory",
    "ChangeRow",
    "to_text",
    "plain",
    "decode",
    "read_snapshot",
    "refresh_summary",
    "history",
    "change_total",
]

TITLE_MAX_LENGTH = 200  # Document.title's max_length
CACHE_SECONDS = 3600
CACHE_MAX_BYTES = 1024 * 1024
HISTORY_LIMIT = 1000


def cached_decode(stored):
    """Decode a StoredDocument, cached by its etag (same etag, same bytes).

    Documents over CACHE_MAX_BYTES are decoded each time rather than kept in the
    (per-process, local-memory by default) cache.
    """
    if not stored.etag or len(stored.data) > CACHE_MAX_BYTES:
        return decode(stored.data)
    key = f"todos.display.snapshot:{stored.etag}"
    snapshot = cache.get(key)
    if snapshot is None:
        snapshot = decode(stored.data)
        cache.set(key, snapshot, CACHE_SECONDS)
    return snapshot


def read_snapshot(doc_id):
    """Read ``doc_id`` through the storage service and decode it.

    Returns (StoredDocument, Snapshot), or None if no such document is stored;
    refreshes the document's stored summary on the way.
    """
    stored = storage.read_document(doc_id)
    if stored is None:
        return None
    snapshot = cached_decode(stored)
    refresh_summary(doc_id, stored.etag, snapshot)
    return stored, snapshot


def refresh_summary(doc_id, etag, snapshot):
    """Store the title and counts decoded from the bytes whose etag is ``etag``.

    Only a row still at ``etag`` is updated, so a write that lands meanwhile is
    never given an older summary; ``update()`` leaves ``updated_at`` alone.
    """
    Document.objects.filter(doc_id=doc_id, etag=etag).exclude(summary_etag=etag).update(
        title=(snapshot.title or "")[:TITLE_MAX_LENGTH],
        item_count=snapshot.item_count,
        done_count=snapshot.done_count,
        last_change_at=snapshot.last_change_at,
        summary_etag=etag,
    )


@dataclass(frozen=True)
class ChangeRow:
    """One change in the history: who, when, what it depends on."""

    actor: str
    seq: int
    time: datetime.datetime | None
    message: str | None
    deps: list
    hash: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class ChunkHistory:
    """One stored chunk and the changes it holds (or why it cannot be read)."""

    position: int
    kind: str
    size: int
    changes: list
    error: str | None = None


@dataclass(frozen=True)
class History:
    """The history of a document, chunk by chunk; ``omitted`` older rows cut."""

    chunks: list
    total: int
    omitted: int


def history(chunks, limit=HISTORY_LIMIT):
    """Return the History of stored chunks, given as (position, data) pairs.

    Change chunks give each change's actor, seq, time, message, deps, hash and
    size; document chunks give actor, seq, time, message and deps per change, and
    their size per chunk. Dependencies are shown as ``actor:seq`` where the
    change is known, else as a short hash. Only the latest ``limit`` changes are
    listed.
    """
    parsed = []
    for position, data in chunks:
        data = bytes(data)
        try:
            parsed.append((position, data, parse_chunks(data, storage.upload_limits())))
        except FormatError as exc:
            parsed.append((position, data, exc))
    labels = _change_labels(
        p for _, _, found in parsed if isinstance(found, list) for p in found
    )
    result = []
    for position, data, found in parsed:
        if isinstance(found, FormatError):
            result.append(
                ChunkHistory(position, "unreadable", len(data), [], str(found))
            )
            continue
        for chunk in found:
            kind = chunk.kind
            rows = _change_rows(chunk, labels)
            result.append(ChunkHistory(position, kind, len(chunk.raw), rows))
    total = sum(len(c.changes) for c in result)
    return History(_keep_latest(result, limit), total, max(0, total - limit))


def _keep_latest(chunks, limit):
    kept, budget = [], limit
    for chunk in reversed(chunks):
        rows = chunk.changes[-budget:] if budget else []
        budget -= len(rows)
        kept.append(
            ChunkHistory(chunk.position, chunk.kind, chunk.size, rows, chunk.error)
        )
    return kept[::-1]


def _short(actor):
    return actor.hex()[:8]


def _change_labels(chunks):
    """Map change hashes to ``actor:seq`` for the changes whose hash is known."""
    labels = {}
    for chunk in chunks:
        if chunk.kind == "change":
            labels[chunk.hash] = f"{_short(chunk.actor)}:{chunk.seq}"
        else:
            for head, index in zip(chunk.heads, chunk.head_indices or (), strict=False):
                if index < len(chunk.changes):
                    meta = chunk.changes[index]
                    labels[head] = f"{_short(meta.actor)}:{meta.seq}"
    return labels


def _change_rows(chunk, labels):
    if chunk.kind == "change":
        return [
            ChangeRow(
                actor=chunk.actor.hex(),
                seq=chunk.seq,
                time=change_time(chunk.time),
                message=chunk.message,
                deps=[labels.get(d, d.hex()[:12]) for d in chunk.deps],
                hash=chunk.hash.hex(),
                size=len(chunk.raw),
            )
        ]
    metas = chunk.changes
    return [
        ChangeRow(
            actor=meta.actor.hex(),
            seq=meta.seq,
            time=change_time(meta.time),
            message=meta.message,
            deps=[
                f"{_short(metas[i].actor)}:{metas[i].seq}"
                if i < len(metas)
                else f"#{i}"
                for i in meta.deps
            ],
        )
        for meta in metas
    ]
