"""Document chunks: a compressed snapshot of a whole document.

Public API: ``DocumentChunk``, ``ChangeMeta``, ``CHANGE_META_COLUMNS`` and
``read_document(body, budget, raw=...)``, which reads the data of a document
chunk. The layout, per the spec's "document chunks": actors, heads, change
column metadata, op column metadata, change column data, op column data, and
optionally one index into the changes for each head. Columns whose
specification has the DEFLATE bit are inflated (within the budget) first.
"""

from dataclasses import dataclass, field

from .columns import (
    ACTOR as ACTOR_TYPE,
)
from .columns import (
    DEFLATE_BIT,
    DELTA,
    GROUP,
    INTEGER,
    STRING,
    VALUE_METADATA,
    Column,
    ColumnSet,
    decode_column_set,
    locate_columns,
    read_column_metadata,
)
from .encodings import check_canonical, expand, expand_delta
from .errors import FormatError
from .fields import read_actors, read_hashes
from .leb128 import read_uleb
from .limits import Budget
from .ops import (
    ACTION,
    DOC_OP_COLUMNS,
    ID_ACTOR,
    ID_CTR,
    SUCC_ACTOR,
    SUCC_CTR,
    any_marks,
    check_ops,
    failure,
)
from .semantics import ObjectRange, document_semantics

__all__ = ["DocumentChunk", "ChangeMeta", "CHANGE_META_COLUMNS", "read_document"]

ACTOR, SEQ, MAX_OP, TIME, MESSAGE = 0x01, 0x03, 0x13, 0x23, 0x35
DEPS_NUM, DEPS_INDEX, EXTRA_LEN, EXTRA_RAW = 0x40, 0x43, 0x56, 0x57
_KEEP_OPS = frozenset({ACTION, ID_ACTOR, ID_CTR, SUCC_ACTOR, SUCC_CTR})
CHANGE_META_COLUMNS = {
    ACTOR: "actor",
    SEQ: "seq",
    MAX_OP: "maxOp",
    TIME: "time",
    MESSAGE: "message",
    DEPS_NUM: "depsNum",
    DEPS_INDEX: "depsIndex",
    EXTRA_LEN: "extraLen",
    EXTRA_RAW: "extraRaw",
}


@dataclass(frozen=True, slots=True)
class ChangeMeta:
    """One change as a document chunk's change columns describe it.

    ``deps`` are indices into the document chunk's ``changes``.
    """

    actor: bytes
    seq: int
    max_op: int
    time: int
    message: str | None
    deps: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class DocumentChunk:
    """A document chunk (type 0), as written by ``Automerge.save()``.

    ``head_indices`` is None when the chunk has heads but no head-index list
    (older writers); otherwise ``head_indices[i]`` is the index in ``changes``
    of ``heads[i]``. ``has_empty_change``: some change holds no ops
    (``Automerge.emptyChange``).
    """

    raw: bytes = field(repr=False)
    actors: tuple[bytes, ...]
    heads: tuple[bytes, ...]
    changes: tuple[ChangeMeta, ...]
    head_indices: tuple[int, ...] | None
    objects: tuple[ObjectRange, ...] = ()
    has_marks: bool = False
    has_empty_change: bool = False

    @property
    def kind(self) -> str:
        """Always ``"document"``."""
        return "document"

    @property
    def clock(self) -> dict[bytes, int]:
        """The vector clock of the changes: actor -> highest seq."""
        clock: dict[bytes, int] = {}
        for change in self.changes:
            if change.seq > clock.get(change.actor, -1):
                clock[change.actor] = change.seq
        return clock


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
    op_located, pos = locate_columns(body, pos, op_metadata, "op")
    # With no heads, an empty head-index list and an absent one look the same.
    head_indices = None if heads else ()
    suffix_at = pos
    if pos < len(body):
        head_indices, pos = _read_head_indices(body, pos, len(heads))

    change_columns = _columns(body, change_located, budget, "change")
    changes = decode_column_set(
        change_columns,
        count_spec=ACTOR,
        actor_count=len(actors),
        names=CHANGE_META_COLUMNS,
        budget=budget,
        charge_rows=budget.add_changes,
        what="change metadata",
    )
    op_columns = _columns(body, op_located, budget, "op")
    ops = decode_column_set(
        op_columns,
        count_spec=ACTION,
        actor_count=len(actors),
        names=DOC_OP_COLUMNS,
        budget=budget,
        charge_rows=budget.add_rows,
        what="document's op set",
        keep=_KEEP_OPS,
    )
    by_spec = {c.spec: c for c in op_columns}
    check_ops(ops, by_spec, DOC_OP_COLUMNS, document=True, offset=ops_at)
    _check_canonical(op_columns)
    metas = _change_metas(changes, change_columns, actors, change_meta_at)
    objects, has_empty_change = document_semantics(
        ops, actors, metas, failure(by_spec, DOC_OP_COLUMNS, ops_at), budget
    )
    if head_indices is not None:
        for index in head_indices:
            if index >= len(metas):
                raise FormatError(
                    f"head index {index} is out of range ({len(metas)} changes)",
                    suffix_at,
                )
    return DocumentChunk(
        raw=raw,
        actors=actors,
        heads=heads,
        changes=metas,
        head_indices=head_indices,
        objects=objects,
        has_marks=any_marks(ops),
        has_empty_change=has_empty_change,
    )


_RLE_TYPES = frozenset({GROUP, ACTOR_TYPE, INTEGER, DELTA, STRING, VALUE_METADATA})


def _check_canonical(columns: list[Column]) -> None:
    """Automerge 3 refuses a document whose op columns are not canonical RLE."""
    for column in columns:
        if column.column_type in _RLE_TYPES:
            try:
                check_canonical(
                    column.data,
                    strings=column.column_type == STRING,
                    signed=column.column_type == DELTA,
                )
            except FormatError as exc:
                name = DOC_OP_COLUMNS.get(column.spec, f"{column.spec:#x}")
                where = "" if column.deflated else f" at {exc.offset}"
                raise FormatError(
                    f"{name} column: {exc.reason}{where}; Automerge writes runs one "
                    "way only and does not load a document with others",
                    column.offset,
                ) from exc


def _read_head_indices(body: bytes, pos: int, count: int) -> tuple[tuple, int]:
    """Read the optional trailing list of head indices, which must end the chunk."""
    indices = []
    for _ in range(count):
        index, pos = read_uleb(body, pos)
        indices.append(index)
    if pos != len(body):
        raise FormatError(
            f"{len(body) - pos} unexpected bytes after the document's "
            f"{count} head indices",
            pos,
        )
    return tuple(indices), pos


def _columns(body: bytes, located: list, budget: Budget, what: str) -> list[Column]:
    """Column objects for located column data, inflating DEFLATE-compressed ones."""
    columns = []
    for spec, start, end in located:
        if spec & DEFLATE_BIT:
            data = budget.inflate(body[start:end], start, f"{what} column {spec:#x}")
            columns.append(Column(spec & ~DEFLATE_BIT, data, start, True))
        else:
            columns.append(Column(spec, body[start:end], start))
    return columns


def _change_metas(
    changes: ColumnSet, columns: list[Column], actors: tuple, offset: int
) -> tuple[ChangeMeta, ...]:
    """Build ChangeMeta rows from the decoded change columns (rows are bounded)."""
    rows = changes.rows
    if not rows:
        return ()
    at = {c.spec: c.offset for c in columns}

    def required(spec: int) -> list:
        found = changes.decoded.get(spec)
        if found is None or found.rows != rows or found.nulls:
            name = CHANGE_META_COLUMNS[spec]
            raise FormatError(
                f"{name} column: a change has no {name}", at.get(spec, offset)
            )
        return found.runs

    actor_indices = expand(required(ACTOR))
    seqs = expand_delta(required(SEQ))
    max_ops = expand_delta(required(MAX_OP))
    times = expand_delta(required(TIME))
    required(EXTRA_LEN)  # Automerge 3 refuses a document without it
    for spec, values in ((SEQ, seqs), (MAX_OP, max_ops)):
        if min(values) < 0:
            name = CHANGE_META_COLUMNS[spec]
            raise FormatError(f"{name} column: negative {name}", at[spec])
    messages = expand(changes.runs(MESSAGE)) or [None] * rows
    dep_counts = expand(changes.runs(DEPS_NUM)) or [0] * rows
    dep_indices = expand_delta(changes.runs(DEPS_INDEX))
    if sum(c or 0 for c in dep_counts) and len(dep_indices) == 0:
        raise FormatError("depsIndex column is missing", at.get(DEPS_NUM, offset))
    if any(d is None or not 0 <= d < rows for d in dep_indices):
        raise FormatError(
            f"depsIndex column: a dependency index is null or out of range "
            f"({rows} changes)",
            at[DEPS_INDEX],
        )
    metas = []
    next_dep = 0
    for i in range(rows):
        count = dep_counts[i] or 0
        metas.append(
            ChangeMeta(
                actor=actors[actor_indices[i]],
                seq=seqs[i],
                max_op=max_ops[i],
                time=times[i],
                message=messages[i] or None,
                deps=tuple(dep_indices[next_dep : next_dep + count]),
            )
        )
        next_dep += count
    return tuple(metas)
