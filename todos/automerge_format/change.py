"""Change chunks: one change, its header fields and the number of its ops.

Public API: ``ChangeChunk`` and ``read_change(body, budget, raw=..., hash=...)``,
which reads the data of a change chunk (everything after the chunk header). The
layout, per the spec's "change chunks": dependencies (count, 32-byte hashes),
actor, seq, startOp, time, message, other actors, op column metadata, op column
data, and any extra bytes, which later format versions may use (but not after
a change without op columns). Of the op columns only the action column is read,
to count the ops.
"""

from dataclasses import dataclass, field

from .columns import (
    ACTION,
    DEFLATE_BIT,
    column_rows,
    locate_columns,
    read_column_metadata,
)
from .errors import FormatError
from .fields import read_actors, read_hashes, read_prefixed_bytes
from .leb128 import read_sleb, read_uleb
from .limits import Budget

__all__ = ["ChangeChunk", "read_change"]


@dataclass(frozen=True, slots=True)
class ChangeChunk:
    """A change chunk (type 1, or type 2 for a DEFLATE-compressed change).

    ``raw`` is the chunk exactly as it appeared in the input; ``hash`` is the
    change hash (SHA-256 of the uncompressed chunk from its type byte on);
    ``op_count`` is the number of ops the change declares.
    """

    raw: bytes = field(repr=False)
    hash: bytes
    actor: bytes
    seq: int
    start_op: int
    time: int
    message: str | None
    deps: tuple[bytes, ...]
    other_actors: tuple[bytes, ...]
    op_count: int

    @property
    def kind(self) -> str:
        """Always ``"change"``."""
        return "change"


def read_change(body: bytes, budget: Budget, *, raw: bytes, hash: bytes) -> ChangeChunk:
    """Read the data of a change chunk; return a ChangeChunk.

    Error offsets are relative to ``body``.
    """
    deps, pos = read_hashes(body, 0, "dependency")
    actor, pos = read_prefixed_bytes(body, pos, "actor ID")
    seq, pos = read_uleb(body, pos)
    start_op, pos = read_uleb(body, pos)
    time, pos = read_sleb(body, pos)
    message_at = pos
    message_bytes, pos = read_prefixed_bytes(body, pos, "message")
    try:
        message = message_bytes.decode("utf-8") or None
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"message is not valid UTF-8 ({exc.reason})", message_at
        ) from exc
    other_actors, pos = read_actors(body, pos, "other actors")
    metadata_at = pos
    metadata, pos = read_column_metadata(body, pos)
    located, pos = locate_columns(body, pos, metadata, "op")
    if not located and pos < len(body):
        # The engine (automerge 0.7.2) applies such a change, but Automerge 3.5
        # (JS) panics on loading it ("change.seq() == 1"); Automerge writes none.
        raise FormatError(
            f"{len(body) - pos} bytes follow a change that has no op columns", pos
        )
    op_count = _count_ops(body, located, budget)
    budget.add_ops(op_count, metadata_at)
    return ChangeChunk(
        raw=raw,
        hash=hash,
        actor=actor,
        seq=seq,
        start_op=start_op,
        time=time,
        message=message,
        deps=deps,
        other_actors=other_actors,
        op_count=op_count,
    )


def _count_ops(body: bytes, located: list, budget: Budget) -> int:
    """The rows of the action column (0 if the change has none)."""
    for spec, start, end in located:
        if spec & ~DEFLATE_BIT != ACTION:
            continue
        if spec & DEFLATE_BIT:
            raise FormatError(
                "action column is marked DEFLATE-compressed, which change chunks "
                "do not allow",
                start,
            )
        return column_rows(body[start:end], budget.ops_left(), "action column", start)
    return 0
