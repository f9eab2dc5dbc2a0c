"""Server-side compaction: a document's chunks replaced by the engine's save().

After a write commits and leaves more than ``TODOS_COMPACT_AFTER_CHUNKS`` chunks,
``request(doc_id)`` queues the document; a background thread of this process
compacts it, off the request path. The save is made outside the lock (the engine
process usually holds the document warm, so it costs a few milliseconds), then
stored in a transaction that holds the document's row lock, and only if the
document's etag is still the one the save was made at: a write that landed
meanwhile wins, and the next write queues the document again. Every change is
kept, because the save is of exactly the stored heads. Sockets on the document
are told the new chunk count and size (no bytes: nothing new to apply).

With ``TODOS_COMPACT_IN_BACKGROUND`` off (the unit tests), ``request`` compacts
at once in the caller's thread.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, transaction

from .errors import Gone, one_writer

__all__ = ["request", "compact_document", "wait"]

logger = logging.getLogger(__name__)

_queued = set()
_queued_lock = threading.Lock()
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="compaction")
_last = None


def request(doc_id):
    """Compact ``doc_id`` soon (once, however often it is asked meanwhile)."""
    global _last
    if not settings.TODOS_COMPACT_IN_BACKGROUND:
        compact_document(doc_id)
        return
    with _queued_lock:
        if doc_id in _queued:
            return
        _queued.add(doc_id)
    _last = _executor.submit(_compact_queued, doc_id)


def wait():
    """Wait for the compaction queued last (for tests and benchmarks)."""
    if _last is not None:
        _last.result()


def _compact_queued(doc_id):
    with _queued_lock:
        _queued.discard(doc_id)
    try:
        compact_document(doc_id)
    except Gone:
        pass  # the list moved to a new edit id meanwhile; its next write queues it
    except Exception:
        logger.exception("Could not compact %s", doc_id)
    finally:
        close_old_connections()


def compact_document(doc_id):
    """Replace ``doc_id``'s chunks with one save of them; return True if it did."""
    from .. import engine
    from ..models import Document
    from . import service, summary

    document = Document.objects.filter(doc_id=doc_id).first()
    if document is None or document.chunk_count <= 1:
        return False
    etag = document.etag
    saved = engine.save(
        doc_id, sorted(document.heads), lambda: service.stored_bytes(doc_id)
    )
    with one_writer(), transaction.atomic():
        document = service.lock_document(doc_id)
        if document.etag != etag:
            return False  # written meanwhile: that write queues it again
        before = document.chunk_count
        summary.replace_chunks(document, saved)
        result = service.result_of(document, changed=False)
        transaction.on_commit(lambda: service.notify_update(result))
    logger.info("Compacted %s: %d chunks into 1 (%d bytes)", doc_id, before, len(saved))
    return True
