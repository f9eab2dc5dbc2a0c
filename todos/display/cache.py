"""Reading a document for display: decoded once per ETag, its summary kept current.

``read_snapshot`` reads through the storage service, decodes through the cache
(``cached_decode``) and stores the title and counts on the document row
(``refresh_summary``), which the admin's list shows without decoding anything.
"""

from django.core.cache import cache

from .. import storage
from ..models import Document
from .snapshot import decode

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
