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
"""

import datetime
from dataclasses import dataclass, field

from django.core.cache import cache

from .. import reference, storage
from ..automerge_format import FormatError, parse_chunks
from ..models import Document

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

TITLE_MAX_LENGTH = 200  # Document.title's max_length
CACHE_SECONDS = 3600
CACHE_MAX_BYTES = 1024 * 1024
HISTORY_LIMIT = 1000
OBJECT_REPLACEMENT = "\ufffc"  # stands for a non-character element in a text


@dataclass(frozen=True)
class Snapshot:
    """A decoded document: its title and items, the whole of it, or why not.

    ``title`` is None when the document has no title; ``error`` says why the
    document could not be decoded (then ``items`` is empty); ``note`` says when
    the view leaves part of the document out.
    """

    title: str | None = None
    items: list = field(default_factory=list)
    document: object = None
    error: str | None = None
    note: str | None = None
    last_change_at: datetime.datetime | None = None

    @property
    def item_count(self):
        """The number of items, or None if the document could not be decoded."""
        return None if self.error else len(self.items)

    @property
    def done_count(self):
        """The number of items marked done, or None if it could not be decoded."""
        return None if self.error else sum(item["done"] for item in self.items)

    def as_json(self):
        """The decoded list for scripts: title, items and counts."""
        return {
            "title": self.title,
            "items": self.items,
            "item_count": self.item_count,
            "done_count": self.done_count,
            "note": self.note,
        }


def to_text(value):
    """Return Automerge text (a list of one-character strings) as one string.

    A plain string is returned as it is; an element that is not a string (an
    embedded object or block marker) becomes U+FFFC; None becomes "".
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "".join(
            part if isinstance(part, str) else OBJECT_REPLACEMENT for part in value
        )
    return str(value)


def plain(value):
    """Return a decoded document as JSON-ready values, with texts joined.

    The ``automerge`` package returns text and a list of one-character strings
    alike, so any non-empty list of one-character strings is shown as a string.
    """
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        if value and all(isinstance(part, str) and len(part) == 1 for part in value):
            return "".join(value)
        return [plain(item) for item in value]
    if isinstance(value, bytes):
        return value.hex()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def normalise(document):
    """Return (title, items) of a decoded todo list, whatever shape it came in.

    The schema is ``{title?: text, items: [{text: text, done: bool}]}``; anything
    else is shown as well as it can be rather than refused.
    """
    if not isinstance(document, dict):
        return None, []
    title = to_text(document["title"]) if "title" in document else None
    entries = document.get("items")
    items = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            text, done = entry.get("text"), entry.get("done")
        else:
            text, done = entry, False
        if not isinstance(text, str | list | tuple | type(None)):
            text = str(plain(text))
        items.append({"text": to_text(text), "done": done is True})
    return title, items


def decode(data):
    """Decode stored Automerge bytes into a Snapshot; a failure becomes its error."""
    if not data:
        return Snapshot(document={})
    try:
        chunks = parse_chunks(data, storage.upload_limits())
    except FormatError as exc:
        return Snapshot(error=f"The stored bytes are not valid Automerge data: {exc}.")
    last_change_at = _last_change_at(chunks)
    parts, omitted = _readable_parts(chunks)
    try:
        document = _to_python(parts)
    except reference.DecodeError as exc:
        return Snapshot(
            error=f"The automerge package could not decode the document: {exc}.",
            last_change_at=last_change_at,
        )
    title, items = normalise(document)
    note = None
    if omitted:
        note = (
            f"This view leaves out {omitted} of {change_total(_clock(chunks))} "
            "changes: they are stored in chunks that overlap others (concurrent "
            "full saves), and the automerge package misreads a change stored "
            "twice. Nothing is lost: Automerge.load reads every change, and the "
            "chunks collapse into one when a client uploads a full save covering "
            "them."
        )
    return Snapshot(
        title=title,
        items=items,
        document=plain(document),
        note=note,
        last_change_at=last_change_at,
    )


def _to_python(parts):
    """Decode the chosen chunks; fall back to the largest one alone if they fail."""
    try:
        return reference.to_python(b"".join(chunk.raw for chunk in parts))
    except reference.DecodeError:
        if len(parts) < 2:
            raise
        largest = max(parts, key=lambda chunk: len(_coverage(chunk)))
        return reference.to_python(largest.raw)


def _readable_parts(chunks):
    """Pick chunks that hold each change once; return (chunks, changes left out).

    Without overlap that is every chunk. Otherwise keep the chunks covering the
    most changes first, skipping any that shares a change with one already kept,
    and keep the stored order (which is topological) among those kept.
    """
    covered = [_coverage(chunk) for chunk in chunks]
    if sum(len(c) for c in covered) == len(set().union(*covered)):
        return chunks, 0
    order = sorted(range(len(chunks)), key=lambda i: (-len(covered[i]), i))
    kept, seen = set(), set()
    for i in order:
        if not covered[i] & seen:
            kept.add(i)
            seen |= covered[i]
    everything = set().union(*covered)
    return [chunks[i] for i in sorted(kept)], len(everything - seen)


def _coverage(chunk):
    """The (actor, seq) pairs of the changes a chunk holds."""
    if chunk.kind == "change":
        return {(chunk.actor, chunk.seq)}
    return {(meta.actor, meta.seq) for meta in chunk.changes}


def _clock(chunks):
    clock = {}
    for chunk in chunks:
        for actor, seq in _coverage(chunk):
            clock[actor.hex()] = max(clock.get(actor.hex(), 0), seq)
    return clock


def change_total(clock):
    """The number of distinct changes a vector clock (actor -> max seq) describes.

    A stored document is closed under dependencies and each actor's changes
    depend on its previous one, so it holds seqs 1..max of every actor.
    """
    return sum(clock.values())


def _last_change_at(chunks):
    times = [
        meta.time
        for chunk in chunks
        for meta in ([chunk] if chunk.kind == "change" else chunk.changes)
    ]
    return change_time(max(times, default=0))


def change_time(seconds):
    """An Automerge change time (seconds since the epoch; 0 is unknown) as UTC."""
    if not seconds:
        return None
    try:
        return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def cached_decode(stored):
    """Decode a StoredDocument, cached by its etag (same etag, same bytes).

    Documents over CACHE_MAX_BYTES are decoded each time rather than kept in the
    (per-process, local-memory by default) cache.
    """
    if not stored.etag or len(stored.data) > CACHE_MAX_BYTES:
        return decode(stored.data)
    key = f"todos.display.snapshot:{stored.etag}"
    snapshot = cache.get(key)
    if snapshot is None:
        snapshot = decode(stored.data)
        cache.set(key, snapshot, CACHE_SECONDS)
    return snapshot


def read_snapshot(doc_id):
    """Read ``doc_id`` through the storage service and decode it.

    Returns (StoredDocument, Snapshot), or None if no such document is stored;
    refreshes the document's stored summary on the way.
    """
    stored = storage.read_document(doc_id)
    if stored is None:
        return None
    snapshot = cached_decode(stored)
    refresh_summary(doc_id, stored.etag, snapshot)
    return stored, snapshot


def refresh_summary(doc_id, etag, snapshot):
    """Store the title and counts decoded from the bytes whose etag is ``etag``.

    Only a row still at ``etag`` is updated, so a write that lands meanwhile is
    never given an older summary; ``update()`` leaves ``updated_at`` alone.
    """
    Document.objects.filter(doc_id=doc_id, etag=etag).exclude(summary_etag=etag).update(
        title=(snapshot.title or "")[:TITLE_MAX_LENGTH],
        item_count=snapshot.item_count,
        done_count=snapshot.done_count,
        last_change_at=snapshot.last_change_at,
        summary_etag=etag,
    )


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
    """One stored chunk and the changes it holds (or why it cannot be read)."""

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


def history(chunks, limit=HISTORY_LIMIT):
    """Return the History of stored chunks, given as (position, data) pairs.

    Change chunks give each change's actor, seq, time, message, deps, hash and
    size; document chunks give actor, seq, time, message and deps per change, and
    their size per chunk. Dependencies are shown as ``actor:seq`` where the
    change is known, else as a short hash. Only the latest ``limit`` changes are
    listed.
    """
    parsed = []
    for position, data in chunks:
        data = bytes(data)
        try:
            parsed.append((position, data, parse_chunks(data, storage.upload_limits())))
        except FormatError as exc:
            parsed.append((position, data, exc))
    labels = _change_labels(
        p for _, _, found in parsed if isinstance(found, list) for p in found
    )
    result = []
    for position, data, found in parsed:
        if isinstance(found, FormatError):
            result.append(
                ChunkHistory(position, "unreadable", len(data), [], str(found))
            )
            continue
        for chunk in found:
            kind = chunk.kind
            rows = _change_rows(chunk, labels)
            result.append(ChunkHistory(position, kind, len(chunk.raw), rows))
    total = sum(len(c.changes) for c in result)
    return History(_keep_latest(result, limit), total, max(0, total - limit))


def _keep_latest(chunks, limit):
    kept, budget = [], limit
    for chunk in reversed(chunks):
        rows = chunk.changes[-budget:] if budget else []
        budget -= len(rows)
        kept.append(
            ChunkHistory(chunk.position, chunk.kind, chunk.size, rows, chunk.error)
        )
    return kept[::-1]


def _short(actor):
    return actor.hex()[:8]


def _change_labels(chunks):
    """Map change hashes to ``actor:seq`` for the changes whose hash is known."""
    labels = {}
    for chunk in chunks:
        if chunk.kind == "change":
            labels[chunk.hash] = f"{_short(chunk.actor)}:{chunk.seq}"
        else:
            for head, index in zip(chunk.heads, chunk.head_indices or (), strict=False):
                if index < len(chunk.changes):
                    meta = chunk.changes[index]
                    labels[head] = f"{_short(meta.actor)}:{meta.seq}"
    return labels


def _change_rows(chunk, labels):
    if chunk.kind == "change":
        return [
            ChangeRow(
                actor=chunk.actor.hex(),
                seq=chunk.seq,
                time=change_time(chunk.time),
                message=chunk.message,
                deps=[labels.get(d, d.hex()[:12]) for d in chunk.deps],
                hash=chunk.hash.hex(),
                size=len(chunk.raw),
            )
        ]
    metas = chunk.changes
    return [
        ChangeRow(
            actor=meta.actor.hex(),
            seq=meta.seq,
            time=change_time(meta.time),
            message=meta.message,
            deps=[
                f"{_short(metas[i].actor)}:{metas[i].seq}"
                if i < len(metas)
                else f"#{i}"
                for i in meta.deps
            ],
        )
        for meta in metas
    ]
