"""Stored documents as people read them: the list, the whole document, the history.

Used by the admin, the JSON view (``/docs/<doc_id>.json``) and ``inspect_doc``.

Public API:

- ``to_text(value) -> str``: Automerge text as one string.
- ``plain(value)``: a decoded document as JSON-ready values.
- ``Snapshot``: what a document holds (title, items, the whole document) or why
  it cannot be shown (``error``).
- ``decode(data) -> Snapshot``: decode Automerge bytes; never raises for bad data.
- ``read_snapshot(doc_id) -> (StoredDocument, Snapshot) | None``: read through the
  storage service, decode (cached by etag) and refresh the document's summary.
- ``snapshot_of(doc_id, stored) -> Snapshot``: decode a stored document, cached.
- ``refresh_summary(doc_id, etag, snapshot)``: store title and counts on the row.
- ``refresh_stale_summaries() -> int``: decode every document whose summary is
  older than its bytes.
- ``history(chunks) -> History``: per-change history of stored chunks.
- ``change_total(clock) -> int``: the number of distinct changes a clock describes.

Documents are decoded by the engine (real Automerge, ``todos.engine``) in its
processes, and cached by the stored etag: one decode per version of a document.

The package re-exports that API; each module holds one idea:

- ``snapshot``: decoding bytes into a Snapshot (``decode``, ``to_text``,
  ``plain``, ``normalise``, ``change_total``, ``change_time``).
- ``cache``: reading for display (``read_snapshot``, ``snapshot_of``,
  ``refresh_summary``, ``refresh_stale_summaries``).
- ``changelog``: the per-change history (``history`` and its rows).
"""

from .cache import (  # noqa: F401 (re-exported)
    TITLE_MAX_LENGTH,
    read_snapshot,
    refresh_stale_summaries,
    refresh_summary,
    snapshot_of,
)
from .changelog import ChangeRow, ChunkHistory, History, history
from .snapshot import (  # noqa: F401 (re-exported)
    Snapshot,
    change_time,
    change_total,
    decode,
    normalise,
    plain,
    to_text,
)

__all__ = [
    "Snapshot",
    "History",
    "ChunkHistory",
    "ChangeRow",
    "to_text",
    "plain",
    "decode",
    "read_snapshot",
    "refresh_summary",
    "history",
    "change_total",
]
