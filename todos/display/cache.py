"""Reading a document for display: decoded once per version, its summary kept current.

``read_snapshot`` reads through the storage service, decodes through the cache
(``snapshot_of``, keyed by the document's heads; the engine process that owns
the document decodes it, from its warm copy when it has one) and stores the
title and counts on the document row (``refresh_summary``), which the admin's
list shows without decoding anything.
"""

import dataclasses
import hashlib
import logging

from django.core.cache import cache
from django.db import models
from redis.exceptions import ConnectionError as RedisUnreachable
from redis.exceptions import TimeoutError as RedisTimeout

from .. import engine, storage
from ..models import Document
from .snapshot import _snapshot

TITLE_MAX_LENGTH = 200  # Document.title's max_length
CACHE_SECONDS = 3600
logger = logging.getLogger("todos.display")


def snapshot_of(doc_id, stored):
    """Decode the StoredDocument of ``doc_id``, cached by the document's heads.

    The heads name every change a document holds, so the cached snapshot stays
    right across a compaction (new bytes, same heads). The engine process that
    owns the document decodes it from its warm copy when it has one at the
    stored heads, else from ``stored.data``; the snapshot is cached under the
    heads of what was decoded. The time of the latest change comes from the
    document row, which every write keeps current: listing a save's changes
    would cost the engine seconds for a large list.
    """
    row = Document.objects.filter(doc_id=doc_id).values_list("heads", "last_change_at")
    heads, last_change_at = row.first() or ([], None)
    heads = sorted(heads)
    snapshot = _cached(_key(heads))
    if snapshot is None:
        decoded = {}

        def decode():
            found = engine.decode(
                doc_id, heads, lambda: stored.data, with_changes=False
            )
            decoded["heads"] = found.heads
            return found

        snapshot = _snapshot(decode)
        if not snapshot.error:
            _keep(_key(decoded["heads"]), snapshot)
    if snapshot.last_change_at is None and last_change_at is not None:
        snapshot = dataclasses.replace(snapshot, last_change_at=last_change_at)
    return snapshot


def _cached(key):
    """The cached snapshot under ``key``, or None (also when Redis is unreachable)."""
    try:
        return cache.get(key)
    except (RedisUnreachable, RedisTimeout) as exc:
        logger.warning("Snapshot cache unavailable, decoding anyway: %s", exc)
        return None


def _keep(key, snapshot):
    """Cache ``snapshot`` under ``key`` if the cache can be reached."""
    try:
        cache.set(key, snapshot, CACHE_SECONDS)
    except (RedisUnreachable, RedisTimeout) as exc:
        logger.warning("Snapshot cache unavailable, not cached: %s", exc)


def _key(heads):
    digest = hashlib.sha256(",".join(heads).encode()).hexdigest()
    return f"todos.display.snapshot:{digest}"


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


def refresh_stale_summaries():
    """Decode every document whose stored summary is older than its bytes.

    Writes never decode, so a list's title and counts are refreshed when
    something reads it for display; this catches up the rest (for a search by
    title, and for lists stored before summaries existed). Returns how many
    documents it decoded. Each decode is cached by heads, as ``read_snapshot``'s.
    """
    stale = (
        Document.objects.exclude(etag="")
        .exclude(summary_etag=models.F("etag"))
        .values_list("doc_id", flat=True)
    )
    return sum(read_snapshot(doc_id) is not None for doc_id in list(stale))
