"""Stored documents as people read them: the list, the whole document, the history.

Used by the admin, the JSON view (``/docs/<doc_id>.json``) and ``inspect_doc``.

Public API:

- ``to_text(value) -> str``: Automerge text (a list of one-character strings, as
  the ``automerge`` package returns it) back to a string.
- ``plain(value)``: a decoded document as JSON-ready values, texts joined.
- ``Snapshot``: what a document holds (title, items, the whole document) or why
  it cannot be shown (``error``).
- ``decode(data) -> Snapshot``: decode Automerge bytes; never raises for bad data.
- ``read_snapshot(doc_id) -> (StoredDocument, Snapshot) | None``: read through the
  storage service, decode (cached by etag) and refresh the document's summary.
- ``refresh_summary(doc_id, etag, snapshot)``: store title and counts on the row.
- ``history(chunks) -> History``: per-change history of stored chunks.
- ``change_total(clock) -> int``: the number of distinct changes a clock describes.

The ``automerge`` package (0.1.2) misreads a concatenation in which one change is
stored twice (it applies the change again and the earlier state wins), which
happens when two clients' concurrent ``save()`` uploads overlap. ``decode`` then
shows the largest part of the document that holds each change once, and says so in
``Snapshot.note``; ``Automerge.load`` itself reads the stored bytes correctly.

The package re-exports that API; each module holds one idea:

- ``snapshot``: decoding bytes into a Snapshot (``decode``, ``to_text``,
  ``plain``, ``normalise``, ``change_total``, ``change_time``).
- ``cache``: reading for display (``read_snapshot``, ``cached_decode``,
  ``refresh_summary``).
- ``changelog``: the per-change history (``history`` and its rows).
"""

from .cache import (  # noqa: F401 (re-exported)
    TITLE_MAX_LENGTH,
    cached_decode,
    read_snapshot,
    refresh_summary,
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
