"""Decoding a stored document into what a person reads: a Snapshot.

``decode`` turns Automerge bytes into a Snapshot (title, items, the whole
document, or why it cannot be shown) and never raises for bad data. Where one
change is stored twice, it shows the largest part of the document that holds each
change once (see the package docstring). ``to_text``, ``plain`` and
``normalise`` turn what the ``automerge`` package returns into strings, JSON-ready
values and the todo list's title and items.
"""

import datetime
from dataclasses import dataclass, field

from .. import reference, storage
from ..automerge_format import FormatError, parse_chunks

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
