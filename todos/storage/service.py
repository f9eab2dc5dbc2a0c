"""The storage service: the one entry point for reading and writing documents.

Every write path (HTTP views, the WebSocket consumer, management commands) calls
``write_document``; every read path calls ``read_document``. A write parses the
upload within the cheap limits (``limits``), then, in one transaction holding
the document's row lock, has the engine (real Automerge, ``todos.engine``) apply
it to the stored document and stores what is new (``summary``); after the
commit, ``notify_update`` pushes the new changes to the document's sockets, and
``compaction`` replaces the chunks with one save once there are many.
"""

import logging
import time
from typing import NamedTuple

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from .. import engine, memory
from ..models import Chunk, Document, RetiredDocId, validate_doc_id
from ..ratelimit import quotas
from . import compaction, group_commit
from .errors import (
    EngineBusy,
    Gone,
    HistoryConflict,
    InvalidDocId,
    MissingDependencies,
    StorageError,
    Unloadable,
    ViewOnly,
    database_available,
    one_writer,
)
from .limits import parse_upload
from .results import StoredDocument, WriteResult
from .summary import append_changes, etag_of, replace_chunks

logger = logging.getLogger("todos.storage")

# Uploads applied together by the engine hold at most this many bytes and ops in
# all: a batch of edits, never a batch of uploads each near the limits, whose one
# engine call would take as long as all of theirs.
TOGETHER_MAX_BYTES = 256 * 1024
TOGETHER_MAX_OPS = 20_000


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
            refuse_retired(doc_id)
    if not rows:
        return None
    return StoredDocument(
        data=b"".join(bytes(data) for data, _ in rows),
        etag=etag_of(digest for _, digest in rows),
    )


def write_document(doc_id, body, sender=None, client=None):
    """Merge the Automerge bytes ``body`` into document ``doc_id``; return WriteResult.

    The upload passes the cheap limits first (sizes, inflated bytes, ops, from
    the bytes alone), then real Automerge applies it to the stored document
    inside one transaction that holds the document's row lock, so concurrent
    writers in any number of processes serialise. Raises a StorageError
    subclass, with nothing written, when the upload is refused. After the
    commit, sockets open on the document (all but ``sender``, a channel name)
    get the new changes, and a document whose stored chunks pass
    ``TODOS_COMPACT_AFTER_CHUNKS`` is compacted.

    Concurrent writes to one document in this process are committed together
    (``group_commit``, ``write_batch``), each still checked and answered on its
    own: a refused upload does not fail the others.

    ``client`` is the writer's address, for the per-address quotas
    (``todos.ratelimit.quotas``): a write that would create a document over
    ``TODOS_CREATE_RATE_LIMIT``, or store more than ``TODOS_MAX_CLIENT_BYTES``
    today, raises QuotaExceeded (429). None (management commands): no quota.
    """
    check_doc_id(doc_id)
    try:
        with quotas.bytes_reserved(client, len(body)) as reservation:
            upload = prepare_upload(body, sender, client)
            result = group_commit.submit(doc_id, upload, write_batch)
            if result.changed:
                reservation.keep()
        return result
    finally:
        # A large upload's parse is freed by now (it lived in prepare_upload).
        memory.release_after(len(body))


class Upload(NamedTuple):
    """A parsed upload waiting to be written: its bytes and who sent it.

    ``uploaded``: the hashes of the changes it holds (its change chunks, the
    heads of its document chunks); ``saves``: whether it holds a document chunk;
    ``ops``: the ops its chunks declare.
    """

    body: bytes
    uploaded: tuple
    saves: bool
    ops: int
    sender: str | None
    client: str | None


def prepare_upload(body, sender=None, client=None):
    """Parse ``body`` within the cheap limits into an Upload (BadUpload, TooLarge)."""
    chunks = parse_upload(body)
    uploaded = tuple(hash_ for chunk in chunks for hash_ in _holds(chunk))
    saves = any(chunk.kind == "document" for chunk in chunks)
    ops = sum(chunk.op_count for chunk in chunks)
    return Upload(body, uploaded, saves, ops, sender, client)


def _holds(chunk):
    """Hashes of changes ``chunk`` holds: its own, or a document's heads."""
    return (chunk.hash,) if chunk.kind == "change" else chunk.heads


def write_batch(doc_id, uploads):
    """Write ``uploads`` to ``doc_id`` in one transaction; one outcome per upload.

    An outcome is the upload's WriteResult or the StorageError that refused it.
    Several uploads of changes only (the usual case: incremental edits) are
    first applied by the engine together, as one upload, and stored as one
    chunk; if the engine refuses that, each is applied on its own, in a
    savepoint, so that a refused upload leaves the others' writes standing.
    """
    with database_available(), one_writer(), transaction.atomic():
        document = lock_document(doc_id)
        if len(uploads) == 1:
            return [_write(document, uploads[0])]
        outcomes = None
        if document.chunk_count and not any(upload.saves for upload in uploads):
            outcomes = _write_together(document, uploads)
        if outcomes is None:
            outcomes = [_write_alone(document, upload) for upload in uploads]
        if not document.chunk_count:
            # Every first write was refused: leave no empty row behind, as a lone
            # refused first write does.
            transaction.set_rollback(True)
    return outcomes


def _write(document, upload):
    if not document.chunk_count:
        # A first write creates the list; refusing it rolls back the row.
        quotas.check_create(upload.client)
    # A save replaces what is stored with the engine's save of the result,
    # so overlapping saves are never kept side by side.
    replace = upload.saves or not document.chunk_count
    applied = apply_upload(
        document, upload.body, want_save=replace, uploaded=upload.uploaded
    )
    if not applied.changes and (document.chunk_count or not upload.saves):
        return result_of(document, changed=False)
    if not applied.changes:
        # A save of a document with no changes yet (Automerge.init()):
        # keep it, so the list exists and GET returns bytes that load.
        replace_chunks(document, upload.body, applied)
    elif replace:
        replace_chunks(document, applied.saved, applied)
    else:
        append_changes(document, applied)
    return _stored(document, applied, upload.sender)


def _stored(document, applied, sender):
    """The result of a write that stored ``applied``; push it after the commit."""
    result = result_of(document, changed=True, applied=applied)
    transaction.on_commit(lambda: notify_update(result, sender))
    if document.chunk_count > settings.TODOS_COMPACT_AFTER_CHUNKS:
        transaction.on_commit(lambda: compaction.request(document.doc_id))
    return result


def _write_alone(document, upload):
    """One upload of a batch, in a savepoint: its result, or what refused it."""
    try:
        with transaction.atomic():
            return _write(document, upload)
    except StorageError as exc:
        # The savepoint undid the row; the object may hold the refused write.
        document.refresh_from_db()
        return exc


def _write_together(document, uploads):
    """Apply change-only ``uploads`` as one: their results, or None if refused."""
    body = b"".join(upload.body for upload in uploads)
    if (
        len(body) > TOGETHER_MAX_BYTES
        or sum(upload.ops for upload in uploads) > TOGETHER_MAX_OPS
    ):
        return None
    uploaded = [hash_ for upload in uploads for hash_ in upload.uploaded]
    try:
        with transaction.atomic():
            applied = apply_upload(document, body, uploaded=uploaded)
            if applied.changes:
                append_changes(document, applied)
    except EngineBusy:
        raise  # each on its own would wait as long again: all of them get 503
    except StorageError:
        # One of them is refused: find which by applying each on its own.
        document.refresh_from_db()
        return None
    outcomes = []
    for upload in uploads:
        held = {hash_.hex() for hash_ in upload.uploaded}
        mine = [change for change in applied.changes if change.hash in held]
        if mine:
            own = engine.Applied(applied.heads, mine)
            outcomes.append(_stored(document, own, upload.sender))
        else:
            outcomes.append(result_of(document, changed=False))
    return outcomes


def apply_upload(document, body, want_save=False, uploaded=()):
    """Apply ``body`` to the locked ``document`` with the engine; return Applied.

    ``uploaded`` lists hashes of changes the upload holds (see engine.apply).

    Raises Unloadable (422), HistoryConflict (409), MissingDependencies (409) or
    EngineBusy (503) when the engine refuses or cannot finish; nothing is written.
    """
    try:
        return engine.apply(
            document.doc_id,
            sorted(document.heads),
            body,
            lambda: stored_bytes(document.doc_id),
            want_save=want_save,
            uploaded=uploaded,
        )
    except engine.DuplicateSeq as exc:
        raise HistoryConflict(
            f"The upload holds a change that reuses a change number already "
            f"stored with other content ({exc.detail}). Stored edits are never "
            "replaced; nothing was stored. Reload the list to get the server's "
            "copy, then make the edit again."
        ) from None
    except engine.MissingChanges as exc:
        raise MissingDependencies(
            "The server does not have all the changes this upload depends on "
            f"(first: {exc.detail[0][:16]}...). Send the full document instead: "
            "Automerge.save(doc)."
        ) from None
    except engine.Unloadable as exc:
        raise Unloadable(
            f"Automerge could not load the list with this upload ({exc.detail}), "
            f"so it would break the list for everyone. {NOT_STORED}"
        ) from None
    except engine.EngineUnavailable as exc:
        logger.warning("Engine unavailable for %s: %s", document.doc_id, exc)
        raise EngineBusy(str(exc)) from None


def stored_bytes(doc_id):
    """The stored chunks of ``doc_id``, concatenated in order (b"" if none)."""
    rows = Chunk.objects.filter(document_id=doc_id).order_by("position")
    return b"".join(bytes(data) for data in rows.values_list("data", flat=True))


def result_of(document, changed, applied=None):
    """The WriteResult for ``document`` as it now stands."""
    changes = applied.changes if applied else []
    return WriteResult(
        doc_id=document.doc_id,
        changed=changed,
        new_bytes=b"".join(change.data for change in changes),
        new_changes=len(changes),
        heads=list(document.heads),
        clock=dict(document.clock),
        size=document.size,
        chunk_count=document.chunk_count,
        etag=document.etag,
    )


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
        "doc_id": result.doc_id,  # for sockets that follow several documents
        "data": result.new_bytes,
        "heads": result.heads,
        "chunks": result.chunk_count,
        "size": result.size,
        "sender": sender,
        "committed_at": time.time(),  # for the push delay metric
    }
    try:
        async_to_sync(layer.group_send)(group_name(result.doc_id), message)
    except Exception:
        # The write is committed; a socket that misses this push resyncs from
        # the heads in its next acknowledgement. Never fail the write over it.
        logger.exception("Could not push an update of %s", result.doc_id)


def lock_document(doc_id):
    """Fetch (creating if needed) and lock the document row for this transaction."""
    locked = Document.objects.select_for_update().filter(doc_id=doc_id)
    # Not .first(): its ORDER BY costs a write more to build than the query takes.
    rows = list(locked[:1])
    if not rows:
        refuse_new_document(doc_id)
        Document.objects.get_or_create(doc_id=doc_id)
        rows = list(locked)
    return rows[0]


def refuse_retired(doc_id):
    """Raise Gone if ``doc_id`` is an edit id that was rotated away."""
    if RetiredDocId.objects.filter(doc_id=doc_id).exists():
        raise Gone(
            "This edit link was replaced by the list's owner and no longer opens "
            "or changes the list. Ask them for the list's current link. Nothing "
            "was stored."
        )


def refuse_new_document(doc_id):
    """Raise unless a list may be created as ``doc_id``.

    Ids of rows that exist never get here, so normal writes pay nothing: only
    a write that would create a list checks that its id is not a rotated edit
    id (410) nor a view-only token (403; tokens and ids share one namespace).
    """
    refuse_retired(doc_id)
    if Document.objects.filter(view_token=doc_id).exists():
        raise ViewOnly(
            "This is a view-only link: it shows the list but cannot change it. "
            "Nothing was stored; ask the list's owner for its edit link to make "
            "changes."
        )


NOT_STORED = (
    "Nothing was stored. The change was damaged before it reached the server; "
    "reload the list to get the server's copy, or send Automerge.save(doc) from "
    "a device whose copy of the list opens."
)


def document_heads(doc_id):
    """The heads (hex change hashes) of the stored document, sorted."""
    return list(Document.objects.get(doc_id=doc_id).heads)
