"""Reading a document for display: decoded once per ETag, its summary kept current.

``read_snapshot`` reads through the storage service, decodes through the cache
(``snapshot_of``: the engine process that owns the document decodes it, from its
warm copy when it has one) and stores the title and counts on the document row
(``refresh_summary``), which the admin's list shows without decoding anything.
"""

from django.core.cache import cache

from .. import engine, storage
from ..models import Document
from .snapshot import _snapshot

TITLE_MAX_LENGTH = 200  # Document.title's max_length
CACHE_SECONDS = 3600


def snapshot_of(doc_id, stored):
    """Decode the StoredDocument of ``doc_id``, cached by its etag.

    The engine process that owns the document decodes it from its warm copy
    when it has one at the stored heads, else from ``stored.data``.
    """
    key = f"todos.display.snapshot:{stored.etag}"
    snapshot = cache.get(key) if stored.etag else None
    if snapshot is None:
        heads = Document.objects.filter(doc_id=doc_id).values_list("heads", flat=True)
        snapshot = _snapshot(
            lambda: engine.decode(
                doc_id, sorted(heads.first() or []), lambda: stored.data
            )
        )
        if stored.etag and not snapshot.error:
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
    snapshot = snapshot_of(doc_id, stored)
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
