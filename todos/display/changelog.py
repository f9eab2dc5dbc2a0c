"""A document's history as people read it: each stored chunk and its changes.

``history`` lists who made each change, when, with what message and on which
changes it builds, chunk by chunk, keeping the latest ``HISTORY_LIMIT`` changes.
A change chunk describes its one change in its header (read by the format
pre-check, ``parse_chunks``); the changes of a document chunk are listed by the
engine (real Automerge), which loads the document.
(The module is not named ``history``: ``todos.display.history`` is the function.)
"""

import datetime
from dataclasses import dataclass

from .. import engine, storage
from ..automerge_format import FormatError, parse_chunks
from ..models import Document
from .snapshot import change_time

HISTORY_LIMIT = 1000


@dataclass(frozen=True)
class ChangeRow:
    """One change in the history: who, when, what it depends on."""

    actor: str
    seq: int
    time: datetime.datetime | None
    message: str | None
    deps: list
    hash: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class ChunkHistory:
    """One stored chunk and the changes it holds (or why they cannot be listed)."""

    position: int
    kind: str
    size: int
    changes: list
    error: str | None = None


@dataclass(frozen=True)
class History:
    """The history of a document, chunk by chunk; ``omitted`` older rows cut."""

    chunks: list
    total: int
    omitted: int


def history(chunks, doc_id=None, limit=HISTORY_LIMIT):
    """Return the History of stored chunks, given in order as (position, data).

    Each change shows its actor, seq, time, message, deps and hash; a change
    chunk's also its size (a document chunk's size is for all its changes).
    Dependencies are shown as ``actor:seq`` where the change is known, else as
    a short hash. The engine lists a document chunk's changes: from its copy of
    document ``doc_id`` at the stored heads if given, else from the chunks'
    bytes. Only the latest ``limit`` changes are listed.
    """
    chunks = [(position, bytes(data)) for position, data in chunks]
    framed = [(position, data, _frame(data)) for position, data in chunks]
    parsed = [c for _, _, found in framed if isinstance(found, list) for c in found]
    headers = [_header(c) for c in parsed if c.kind == "change"]
    listed = []
    if any(c.kind == "document" for c in parsed):
        listed = _engine_changes(doc_id, b"".join(data for _, data in chunks))
    if not isinstance(listed, str):
        labels = _labels(headers + listed)
        in_change_chunks = {header[0] for header in headers}
        listed = [c for c in listed if c[0] not in in_change_chunks]
    else:
        labels = _labels(headers)
    result = []
    for position, data, found in framed:
        if isinstance(found, str):
            result.append(ChunkHistory(position, "unreadable", len(data), [], found))
            continue
        for chunk in found:
            result.append(_chunk_history(position, chunk, listed, labels))
            if chunk.kind == "document":
                listed = []  # the engine's changes are listed once, at the first
    total = sum(len(c.changes) for c in result)
    return History(_keep_latest(result, limit), total, max(0, total - limit))


def _frame(data):
    """The chunks of ``data`` (format pre-check), or why they cannot be parsed."""
    try:
        return parse_chunks(data, storage.upload_limits())
    except FormatError as exc:
        return f"cannot be parsed: {exc}"


def _engine_changes(doc_id, data):
    """The engine's changes ``(hash, actor, seq, time, message, deps)``, or why not.

    The decoded value is not needed, so its texts are cut to one character.
    """
    try:
        if doc_id is None:
            return engine.decode_bytes(data, max_chars=1)[1]
        found = Document.objects.filter(doc_id=doc_id).values_list("heads", flat=True)
        heads = sorted(found.first() or [])
        return engine.decode(doc_id, heads, lambda: data, max_chars=1)[1]
    except engine.Unloadable as exc:
        return f"its changes cannot be listed: Automerge could not load it ({exc})"
    except engine.EngineUnavailable as exc:
        return f"its changes cannot be listed now: {exc}"


def _header(chunk):
    """A change chunk's header as the engine lists a change."""
    deps = [d.hex() for d in chunk.deps]
    return (
        chunk.hash.hex(),
        chunk.actor.hex(),
        chunk.seq,
        chunk.time,
        chunk.message,
        deps,
    )


def _labels(changes):
    """Map change hashes (hex) to ``actor:seq``, for the changes given."""
    return {change[0]: f"{change[1][:8]}:{change[2]}" for change in changes}


def _chunk_history(position, chunk, listed, labels):
    """A chunk's ChunkHistory: a change chunk's own change, or ``listed``.

    ``listed`` is the engine's changes for a document chunk, or why it has none.
    """
    size = len(chunk.raw)
    if chunk.kind == "change":
        rows = [_row(_header(chunk), labels, size)]
        return ChunkHistory(position, "change", size, rows)
    if isinstance(listed, str):
        return ChunkHistory(position, "document", size, [], listed)
    return ChunkHistory(position, "document", size, [_row(c, labels) for c in listed])


def _row(change, labels, size=None):
    hash_, actor, seq, time, message, deps = change
    return ChangeRow(
        actor=actor,
        seq=seq,
        time=change_time(time),
        message=message or None,
        deps=[labels.get(d, d[:12]) for d in deps],
        hash=hash_,
        size=size,
    )


def _keep_latest(chunks, limit):
    kept, budget = [], limit
    for chunk in reversed(chunks):
        rows = chunk.changes[-budget:] if budget else []
        budget -= len(rows)
        kept.append(
            ChunkHistory(chunk.position, chunk.kind, chunk.size, rows, chunk.error)
        )
    return kept[::-1]
