"""The storage service: the one entry point for reading and writing documents.

Every write path (HTTP views, the WebSocket consumer, management commands) calls
``write_document``; every read path calls ``read_document``. A write parses the
upload (``limits``), has the independent reader check it (``crosscheck``), then
locks the document row and merges (``merge``) in one transaction; after the
commit, ``notify_update`` pushes the new bytes to the document's sockets.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .. import memory
from ..models import Chunk, Document, validate_doc_id
from .crosscheck import check_with_reference, self_contained_part
from .errors import InvalidDocId, database_available
from .limits import parse_upload
from .merge import _Merge
from .results import StoredDocument
from .summary import etag_of

logger = logging.getLogger("todos.storage")


def check_doc_id(doc_id):
    """Raise InvalidDocId unless ``doc_id`` is 1-64 characters of [A-Za-z0-9_-]."""
    try:
        validate_doc_id(doc_id)
    except Exception as exc:
        raise InvalidDocId(
            f"Invalid document id {doc_id[:80]!r}: use 1 to 64 characters of "
            "A-Z, a-z, 0-9, '_' and '-'."
        ) from exc


def read_document(doc_id):
    """Return the stored document as a StoredDocument, or None if there is none.

    The bytes and the ETag come from one query, so they always agree.
    """
    check_doc_id(doc_id)
    with database_available():
        rows = list(
            Chunk.objects.filter(document_id=doc_id)
            .order_by("position")
            .values_list("data", "digest")
        )
    if not rows:
        return None
    return StoredDocument(
        data=b"".join(bytes(data) for data, _ in rows),
        etag=etag_of(digest for _, digest in rows),
    )


def write_document(doc_id, body, sender=None):
    """Merge the Automerge bytes ``body`` into document ``doc_id``; return WriteResult.

    Runs read-merge-write in one transaction holding the document's row lock, so
    concurrent writers in any number of processes serialise. Raises a StorageError
    subclass, with nothing written, when the upload is refused. After the commit,
    sockets open on the document (all but ``sender``, a channel name) get the new
    bytes.
    """
    check_doc_id(doc_id)
    try:
        return _write(doc_id, body, sender)
    finally:
        # The parse of a large upload is freed by now (it lived in _write's frame).
        memory.release_after(len(body))


def _write(doc_id, body, sender):
    incoming = parse_upload(body)
    check_with_reference(self_contained_part(incoming))  # before the lock: slow
    with database_available(), transaction.atomic():
        document = lock_document(doc_id)
        merge = _Merge(document, incoming)
        merge.plan()
        result = merge.apply()
        if result.changed:
            transaction.on_commit(lambda: notify_update(result, sender))
    return result


def group_name(doc_id):
    """The Channels group of the sockets open on ``doc_id``."""
    return f"doc_{doc_id}"


def notify_update(result, sender=None):
    """Tell every socket open on the document what a committed write stored.

    The message carries the write's new bytes (none when it only compacted the
    stored chunks) and what is stored now: heads, chunk count and size.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    message = {
        "type": "doc.updated",
        "data": result.new_bytes,
        "heads": result.heads,
        "chunks": result.chunk_count,
        "size": result.size,
        "sender": sender,
    }
    try:
        async_to_sync(layer.group_send)(group_name(result.doc_id), message)
    except Exception:
        # The write is committed; a socket that misses this push resyncs from
        # the heads in its next acknowledgement. Never fail the write over it.
        logger.exception("Could not push an update of %s", result.doc_id)


def lock_document(doc_id):
    """Fetch (creating if needed) and lock the document row for this transaction."""
    locked = Document.objects.select_for_update()
    document = locked.filter(doc_id=doc_id).first()
    if document is None:
        Document.objects.get_or_create(doc_id=doc_id)
        document = locked.get(doc_id=doc_id)
    return document


def document_heads(doc_id):
    """The heads (hex change hashes) of the stored document, sorted."""
    return list(Document.objects.get(doc_id=doc_id).heads)
