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

from django.core.cache import cache

from .. import storage
from ..models import Document
from .changelog import ChangeRow, ChunkHistory, History, history
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
