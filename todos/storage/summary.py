"""The stored chunks and the document row's summary of them.

A write stores what the engine reports: the new changes appended as one chunk,
or one save of the whole document in place of every stored chunk. The document
row keeps what reads and acknowledgements need without touching the chunks:
heads (from the engine), clock, counts, size, the latest change's time and an
ETag that folds the chunks' digests in order.
"""

import datetime
import hashlib

from ..models import Chunk
from .errors import TooLarge
from .limits import max_stored_bytes

WRITTEN_FIELDS = [
    "size",
    "chunk_count",
    "change_count",
    "clock",
    "heads",
    "etag",
    "next_position",
    "last_change_at",
]


def chunk_row(document, kind, data, position, change_count):
    """An unsaved Chunk row holding ``data`` at ``position``."""
    return Chunk(
        document=document,
        position=position,
        kind=kind,
        data=data,
        size=len(data),
        digest=hashlib.sha256(data).hexdigest(),
        change_count=change_count,
    )


def replace_chunks(document, saved, applied=None):
    """Store ``saved`` (a save of everything) as the document's only chunk."""
    added = len(applied.changes) if applied else 0
    Chunk.objects.filter(document=document).delete()
    row = chunk_row(
        document,
        Chunk.DOCUMENT,
        saved,
        document.next_position,
        document.change_count + added,
    )
    row.save()
    document.size = row.size
    document.chunk_count = 1
    document.etag = etag_of([row.digest])
    record(document, applied)


def append_changes(document, applied):
    """Store the new changes as one chunk after the others."""
    data = b"".join(change.data for change in applied.changes)
    row = chunk_row(
        document, Chunk.CHANGE, data, document.next_position, len(applied.changes)
    )
    row.save()
    document.size += row.size
    document.chunk_count += 1
    document.etag = etag_of([row.digest], document.etag)
    record(document, applied)


def record(document, applied):
    """Save the document row's summary after one chunk was written at the end."""
    if document.size > max_stored_bytes():
        raise TooLarge(
            f"Storing this upload would make the document {document.size} bytes; "
            f"this server stores at most {max_stored_bytes()} bytes per document "
            "(TODOS_MAX_DOCUMENT_BYTES and 1/16 more). Start a new list, or "
            "remove finished items and ask an operator to compact it."
        )
    if applied is not None:
        for change in applied.changes:
            if document.clock.get(change.actor, 0) < change.seq:
                document.clock[change.actor] = change.seq
        document.heads = list(applied.heads)
        document.change_count += len(applied.changes)
        latest = latest_time(applied.changes)
        if latest and (not document.last_change_at or latest > document.last_change_at):
            document.last_change_at = latest
    document.next_position += 1
    document.save(update_fields=[*WRITTEN_FIELDS, "updated_at"])


def latest_time(changes):
    """The latest of the changes' times (their authors' clocks), as UTC, or None."""
    return change_time(max((change.time for change in changes), default=0))


def change_time(seconds):
    """An Automerge change time (seconds since the epoch; 0 is unknown) as UTC."""
    if not seconds:
        return None
    try:
        return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def etag_of(chunk_digests, etag=""):
    """A validator for the stored bytes: the chunks' digests folded in order.

    Folding one digest at a time lets a write that appends chunks extend the
    stored ETag (pass it as ``etag``) and still agree with a fold of them all.
    """
    for chunk_digest in chunk_digests:
        etag = hashlib.sha256(f"{etag}:{chunk_digest}".encode()).hexdigest()[:32]
    return etag
