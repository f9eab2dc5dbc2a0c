"""Change chunks: one change, its header fields and its op columns.

Public API: ``ChangeChunk`` and ``read_change(body, budget, raw=..., hash=...)``,
which reads the data of a change chunk (everything after the chunk header). The
layout, per the spec's "change chunks": dependencies (count, 32-byte hashes),
actor, seq, startOp, time, message, other actors, op column metadata, op column
data, and any extra bytes, which later format versions may use.
"""

from dataclasses import dataclass, field

from .columns import (
    DEFLATE_BIT,
    Column,
    decode_column_set,
    locate_columns,
    read_column_metadata,
)
from .errors import FormatError
from .fields import read_actors, read_hashes, read_prefixed_bytes
from .leb128 import read_sleb, read_uleb
from .limits import Budget
from .ops import ACTION, CHANGE_OP_COLUMNS, any_marks, check_ops, failure
from .semantics import ObjectRange, ObjectUse, change_semantics

__all__ = ["ChangeChunk", "read_change"]

_MAX_START_OP = 0xFFFF_FFFF  # Automerge refuses op counters beyond 32 bits


@dataclass(frozen=True, slots=True)
class ChangeChunk:
    """A change chunk (type 1, or type 2 for a DEFLATE-compressed change).

    ``raw`` is the chunk exactly as it appeared in the input; ``hash`` is the
    change hash (SHA-256 of the uncompressed chunk from its type byte on).
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
    objects: tuple[ObjectRange, ...] = ()
    object_uses: frozenset[ObjectUse] = frozenset()
    named_actors: frozenset[bytes] = frozenset()
    has_marks: bool = False

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
    start_op_at = pos
    start_op, pos = read_uleb(body, pos)
    if not 0 < start_op <= _MAX_START_OP:
        raise FormatError(
            f"startOp is {start_op}; it must be between 1 and {_MAX_START_OP}",
            start_op_at,
        )
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
    for spec, _ in metadata:
        if spec & DEFLATE_BIT:
            raise FormatError(
                f"op column {spec:#x} is marked DEFLATE-compressed, which change "
                "chunks do not allow",
                metadata_at,
            )
    located, pos = locate_columns(body, pos, metadata, "op")
    if not located and pos < len(body):
        # Not checked by the independent reader either (see storage), and
        # Automerge 3.5 can panic on the bytes; Automerge writes none here.
        raise FormatError(
            f"{len(body) - pos} bytes follow a change that has no op columns",
            pos,
        )
    columns = [Column(spec, body[start:end], start) for spec, start, end in located]
    ops = decode_column_set(
        columns,
        count_spec=ACTION,
        actor_count=1 + len(other_actors),
        names=CHANGE_OP_COLUMNS,
        budget=budget,
        charge_rows=budget.add_rows,
        what="change",
    )
    by_spec = {c.spec: c for c in columns}
    check_ops(ops, by_spec, CHANGE_OP_COLUMNS, document=False, offset=metadata_at)
    objects, uses, named = change_semantics(
        ops,
        start_op,
        (actor, *other_actors),
        failure(by_spec, CHANGE_OP_COLUMNS, metadata_at),
    )
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
        op_count=ops.rows,
        objects=objects,
        object_uses=uses,
        named_actors=named,
        has_marks=any_marks(ops),
    )
