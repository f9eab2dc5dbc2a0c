"""Document chunks: a compressed snapshot of a whole document.

Public API: ``DocumentChunk`` and ``read_document(body, budget, raw=...)``, which
reads the data of a document chunk. The layout, per the spec's "document
chunks": actors, heads, change column metadata, op column metadata, change
column data, op column data, and optionally one index into the changes for each
head. Columns whose specification has the DEFLATE bit are inflated within the
budget (and dropped: only their size matters here); of the columns only two are
read, to count the changes (their actor column) and the ops (the action column).
"""

from dataclasses import dataclass, field

from .columns import (
    ACTION,
    CHANGE_ACTOR,
    DEFLATE_BIT,
    column_rows,
    locate_columns,
    read_column_metadata,
)
from .fields import read_actors, read_hashes
from .limits import Budget

__all__ = ["DocumentChunk", "read_document"]


@dataclass(frozen=True, slots=True)
class DocumentChunk:
    """A document chunk (type 0), as written by ``Automerge.save()``.

    ``change_count`` and ``op_count`` are the changes and ops it declares (a
    document leaves delete ops out: they are the successors of what they delete).
    """

    raw: bytes = field(repr=False)
    actors: tuple[bytes, ...]
    heads: tuple[bytes, ...]
    change_count: int
    op_count: int

    @property
    def kind(self) -> str:
        """Always ``"document"``."""
        return "document"


def read_document(body: bytes, budget: Budget, *, raw: bytes) -> DocumentChunk:
    """Read the data of a document chunk; return a DocumentChunk.

    Error offsets are relative to ``body``.
    """
    actors, pos = read_actors(body, 0, "actors")
    heads, pos = read_hashes(body, pos, "head")
    change_meta_at = pos
    change_metadata, pos = read_column_metadata(body, pos)
    ops_at = pos
    op_metadata, pos = read_column_metadata(body, pos)
    change_located, pos = locate_columns(body, pos, change_metadata, "change")
    op_located, _ = locate_columns(body, pos, op_metadata, "op")
    # What follows (the head indices) is the engine's to read.
    change_count = _count_rows(
        body, change_located, CHANGE_ACTOR, budget.changes_left(), budget, "change"
    )
    budget.add_changes(change_count, change_meta_at)
    op_count = _count_rows(body, op_located, ACTION, budget.ops_left(), budget, "op")
    budget.add_ops(op_count, ops_at)
    return DocumentChunk(
        raw=raw,
        actors=actors,
        heads=heads,
        change_count=change_count,
        op_count=op_count,
    )


def _count_rows(
    body: bytes, located: list, count_spec: int, most: int, budget: Budget, what: str
) -> int:
    """Rows of column ``count_spec`` (0 if absent), inflating every column."""
    rows = 0
    for spec, start, end in located:
        data = body[start:end]
        deflated = bool(spec & DEFLATE_BIT)
        if deflated:
            data = budget.inflate(data, start, f"{what} column {spec:#x}")
        if spec & ~DEFLATE_BIT == count_spec:
            name = f"{what} column {count_spec:#x}"
            rows = column_rows(data, most, name, start, deflated)
    return rows
