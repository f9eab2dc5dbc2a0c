"""The document store: parse, validate, lock, merge, store and notify, written once.

Every write path (HTTP views, the WebSocket consumer, management commands) calls
``write_document``; every read path calls ``read_document``. See DESIGN.md.

A write merges at the level of Automerge chunks: the incoming chunks are added to
the stored ones, a stored chunk that an incoming one fully contains is dropped, and
an incoming chunk the store already contains is skipped. Whether one set of changes
contains another is decided by vector clocks (actor -> highest seq), which is exact
for the dependency-closed sets that document chunks are. A change chunk is accepted
only when every change it depends on is stored or arrives in the same upload, so the
stored chunks always concatenate to a document that ``Automerge.load`` accepts.

The package re-exports what the rest of the app uses; each module holds one idea:

- ``service``: the entry point (read, write, lock, notify).
- ``errors``: StorageError and its subclasses, one per HTTP status.
- ``limits``: the size limits, and parsing an upload within them.
- ``crosscheck``: the independent reader's check of each upload.
- ``merge``: ``_Merge``, one write's plan and its application.
- ``history``: vector clocks and change histories.
- ``objects``: the KnownObject index and the checks of the objects ops work on.
- ``summary``: chunk rows and the document's heads and ETag.
- ``results``: StoredDocument and WriteResult.
"""

from .crosscheck import (  # noqa: F401 (re-exported)
    check_with_reference,
    newer_than_reference,
    self_contained_part,
)
from .errors import (
    BadUpload,
    InvalidDocId,
    MissingDependencies,
    StorageError,
    TooLarge,
    Unavailable,
    database_available,  # noqa: F401 (re-exported)
)
from .limits import max_document_bytes, parse_upload, upload_limits  # noqa: F401
from .merge import _Merge  # noqa: F401 (re-exported)
from .results import StoredDocument, WriteResult
from .service import (  # noqa: F401 (re-exported)
    check_doc_id,
    document_heads,
    group_name,
    lock_document,
    notify_update,
    read_document,
    write_document,
)
from .summary import _heads, etag_of  # noqa: F401 (_heads: migration 0004)

__all__ = [
    "StorageError",
    "InvalidDocId",
    "BadUpload",
    "MissingDependencies",
    "TooLarge",
    "Unavailable",
    "WriteResult",
    "StoredDocument",
    "read_document",
    "write_document",
    "document_heads",
    "etag_of",
]
