"""Decoding a stored document into what a person reads: a Snapshot.

``decode`` turns Automerge bytes into a Snapshot (title, items, the whole
document, or why it cannot be shown) and never raises for bad data; the engine
(real Automerge, in its processes) does the decoding. ``to_text``, ``plain`` and
``normalise`` turn what it returns into strings, JSON-ready values and the todo
list's title and items.
"""

import datetime
from dataclasses import dataclass, field

from .. import engine
from ..storage.summary import change_time  # noqa: F401 (re-exported)

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
    """Return a decoded document as JSON-ready values (bytes as hex)."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
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
    """Decode Automerge bytes into a Snapshot; a failure becomes its error."""
    if not data:
        return Snapshot(document={})
    return _snapshot(lambda: engine.decode_bytes(data))


def _snapshot(decoded):
    """A Snapshot of what ``decoded()`` (an engine decode) returns, or its error."""
    try:
        value, changes, _ = decoded()
    except engine.Unloadable as exc:
        return Snapshot(error=f"Automerge could not load the document: {exc}.")
    except engine.EngineUnavailable as exc:
        return Snapshot(error=f"The document could not be decoded now: {exc}.")
    title, items = normalise(value)
    return Snapshot(
        title=title,
        items=items,
        document=plain(value),
        last_change_at=change_time(max((c[3] for c in changes), default=0)),
    )


def change_total(clock):
    """The number of distinct changes a vector clock (actor -> max seq) describes.

    A stored document is closed under dependencies and each actor's changes
    depend on its previous one, so it holds seqs 1..max of every actor.
    """
    return sum(clock.values())
