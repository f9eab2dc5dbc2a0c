"""The document store: parse, validate, lock, merge, store and notify, written once.

Every write path (HTTP views, the WebSocket consumer, management commands) calls
``write_document``; every read path calls ``read_document``. See DESIGN.md.

A write first passes cheap limits computed from the bytes alone (size, inflated
bytes, ops), then real Automerge (``todos.engine``) applies it to the stored
document while the document's row is locked. The engine decides what is new (by
change hash), refuses what would break the list (it cannot load it, or the
result does not survive save() and load() with the same heads) and what would
rewrite history (a change reusing an actor's sequence number), and reports the
new heads. The new changes are appended as one chunk; an upload holding a save
replaces the stored chunks with the engine's save of the result, and so does
compaction once the chunks pass a threshold.

The package re-exports what the rest of the app uses; each module holds one idea:

- ``service``: the entry point (read, write, lock, notify).
- ``group_commit``: concurrent writes to one document run as one batch.
- ``errors``: StorageError and its subclasses, one per HTTP status.
- ``limits``: the size and work limits, and parsing an upload within them.
- ``summary``: storing chunks and the document row's summary of them.
- ``compaction``: replacing many chunks with one save, after the commit.
- ``results``: StoredDocument and WriteResult.
- ``stream``: reading a document in bounded slices, for large GETs.
"""

from .errors import (
    BadUpload,
    EngineBusy,
    Gone,
    HistoryConflict,
    InvalidDocId,
    MissingDependencies,
    QuotaExceeded,
    StorageError,
    TooLarge,
    Unavailable,
    Unloadable,
    ViewOnly,
    database_available,  # noqa: F401 (re-exported)
)
from .limits import max_document_bytes, parse_upload, upload_limits  # noqa: F401
from .results import StoredDocument, WriteResult
from .service import (  # noqa: F401 (re-exported)
    check_doc_id,
    document_heads,
    group_name,
    lock_document,
    notify_update,
    read_document,
    refuse_new_document,
    refuse_retired,
    stored_bytes,
    write_document,
)
from .stream import (  # noqa: F401 (re-exported)
    SLICE_BYTES,
    ChunkReplaced,
    ReadPlan,
    aslices,
    read_plan,
)
from .summary import etag_of

__all__ = [
    "StorageError",
    "InvalidDocId",
    "BadUpload",
    "MissingDependencies",
    "HistoryConflict",
    "Unloadable",
    "TooLarge",
    "QuotaExceeded",
    "EngineBusy",
    "Gone",
    "ViewOnly",
    "Unavailable",
    "WriteResult",
    "StoredDocument",
    "read_document",
    "write_document",
    "document_heads",
    "etag_of",
]
