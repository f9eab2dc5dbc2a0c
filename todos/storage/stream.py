"""Reading a stored document in bounded slices, for GETs of large documents.

A slow client must not make the server hold a whole document (up to
TODOS_MAX_DOCUMENT_BYTES) for as long as it takes to read it. So a read first
takes a ``ReadPlan``: the chunks' positions, digests and sizes, from one query
(one consistent version: the ETag and length are the plan's), and then reads
the bytes ``SLICE_BYTES`` at a time from the database (``SUBSTR`` on PostgreSQL,
incremental blob I/O on SQLite), each slice only when the previous one has been
sent (see todo_site/backpressure.py).

Chunks are immutable and their ids are never reused, so every slice comes from
the version the plan saw, however long the read takes. What can happen
meanwhile is that a write or a compaction replaces the chunks: then
``read_slice`` raises ``ChunkReplaced``, never returning bytes of another
version, and the view breaks the response off, so that the client sees a failed
read (never a complete body of mixed versions) and reads again
(todos/views.py).

Public API: ``SLICE_BYTES``, ``ReadPlan``, ``ChunkReplaced``, ``read_plan``,
``read_slice``, ``slices``, ``aslices``.
"""

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection
from django.db.models import BinaryField
from django.db.models.functions import Length, Substr

from ..models import Chunk
from .errors import StorageError, database_available
from .service import refuse_retired

__all__ = [
    "SLICE_BYTES",
    "ReadPlan",
    "ChunkReplaced",
    "read_plan",
    "read_slice",
    "slices",
    "aslices",
]

# The most a read holds of a document at once; also the size of Django's ASGI
# body messages and of Twisted's write buffer, so one slice is one message.
SLICE_BYTES = 64 * 1024
# The threads that read slices for streamed responses: a few, shared by every
# stream, each reading one slice and giving its connection back (to the pool on
# PostgreSQL), so a thousand slow readers hold no database connection between
# slices.
SLICE_READER_THREADS = 2
_slice_readers = ThreadPoolExecutor(SLICE_READER_THREADS, "slice-reader")


class ChunkReplaced(StorageError):
    """A chunk of the version being read was replaced (written or compacted)."""

    status = 503
    retry_after = 1


@dataclass(frozen=True)
class ReadPlan:
    """One stored version of a document: its chunks, in order, without their bytes.

    ``chunks`` holds (chunk id, size) pairs; ``size`` is their sum.
    """

    doc_id: str
    etag: str
    size: int
    chunks: tuple

    def slice_plan(self, slice_bytes=SLICE_BYTES):
        """(chunk id, start, length) of each slice, in order."""
        for chunk_id, size in self.chunks:
            for start in range(0, size, slice_bytes):
                yield chunk_id, start, min(slice_bytes, size - start)


def read_plan(doc_id):
    """The ReadPlan of ``doc_id`` as stored now, or None if nothing is stored
    (Gone if the id was rotated away).

    One statement, so the chunks and the document's ETag are of one version.
    Only columns stored before the bytes, and their length (from the row's
    header): SQLite would read a chunk's whole overflow chain to reach the
    ``size`` and ``digest`` columns, which come after ``data``.
    """
    with database_available():
        rows = tuple(
            Chunk.objects.filter(document_id=doc_id)
            .order_by("position")
            .values_list("id", Length("data"), "document__etag")
        )
        if not rows:
            refuse_retired(doc_id)
    if not rows:
        return None
    return ReadPlan(
        doc_id=doc_id,
        etag=rows[0][2],
        size=sum(size for _, size, _ in rows),
        chunks=tuple((chunk_id, size) for chunk_id, size, _ in rows),
    )


def read_slice(chunk_id, start, length):
    """``length`` bytes of one chunk from ``start``; ChunkReplaced if it is gone.

    A chunk's bytes never change, and chunk ids are never reused (AUTOINCREMENT
    on SQLite, a sequence on PostgreSQL), so a slice found is of the version the
    plan saw.
    """
    with database_available():
        if connection.vendor == "sqlite":
            part = _read_sqlite_blob(chunk_id, start, length)
        else:
            # PostgreSQL reads just the slice's pages of an uncompressed value
            # (TOAST); SQLite's SUBSTR would load the whole chunk for each slice.
            substr = Substr("data", start + 1, length, output_field=BinaryField())
            found = Chunk.objects.filter(pk=chunk_id).annotate(part=substr)
            part = found.values_list("part", flat=True).first()
    if part is None or len(part) != length:
        raise ChunkReplaced("The list changed while it was being read; read it again.")
    return bytes(part)


def _read_sqlite_blob(chunk_id, start, length):
    """The slice through SQLite's incremental blob I/O, or None if the row is gone."""
    connection.ensure_connection()
    try:
        with connection.connection.blobopen(
            Chunk._meta.db_table, "data", chunk_id, readonly=True
        ) as blob:
            blob.seek(start)
            return blob.read(length)
    except sqlite3.OperationalError:
        return None  # no such row


def slices(plan, slice_bytes=SLICE_BYTES):
    """The document's bytes as ``plan`` saw them, one slice at a time."""
    for chunk_id, start, length in plan.slice_plan(slice_bytes):
        yield read_slice(chunk_id, start, length)


def _read_slice_and_release(chunk_id, start, length):
    try:
        return read_slice(chunk_id, start, length)
    finally:
        close_old_connections()


async def aslices(plan, slice_bytes=SLICE_BYTES):
    """``slices`` for async code: each slice is read when the previous one is used.

    The reads run in a small pool of threads of their own, never in a
    request's thread, which would keep a database connection for the whole
    (possibly hours-long) response.
    """
    read = sync_to_async(
        _read_slice_and_release, thread_sensitive=False, executor=_slice_readers
    )
    for chunk_id, start, length in plan.slice_plan(slice_bytes):
        yield await read(chunk_id, start, length)
