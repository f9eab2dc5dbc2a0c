"""Column metadata and column sets of the Automerge binary format.

Public API:

- ``read_column_metadata(buf, pos) -> (list[(spec, length)], pos)``: a column
  metadata block (count, then specification and length of each column).
- ``locate_columns(buf, pos, metadata, what)``: where each column's data lies.
- ``Column``: one column's normalized specification, data and position.
- ``decode_column_set(columns, ...) -> ColumnSet``: decode every column of an op
  set or change-metadata set with its encoding and check that the set is
  consistent (layout, row counts, values against their metadata, actor indices).

A column specification is a 32-bit integer: the column id in the high 28 bits,
bit 3 set if the column's data is DEFLATE-compressed, and the column type in
bits 0-2 (see ``COLUMN_TYPE_NAMES``). Columns of one set are sorted by
specification, ignoring the DEFLATE bit.
"""

from collections.abc import Callable
from dataclasses import dataclass

from .encodings import Decoded, decode_boolean, decode_int_rle, decode_string_rle
from .errors import FormatError, TruncatedError
from .leb128 import read_uleb
from .limits import Budget
from .values import check_values

__all__ = [
    "GROUP",
    "ACTOR",
    "INTEGER",
    "DELTA",
    "BOOLEAN",
    "STRING",
    "VALUE_METADATA",
    "VALUE",
    "DEFLATE_BIT",
    "COLUMN_TYPE_NAMES",
    "Column",
    "ColumnSet",
    "read_column_metadata",
    "locate_columns",
    "decode_column_set",
]

GROUP, ACTOR, INTEGER, DELTA, BOOLEAN, STRING, VALUE_METADATA, VALUE = range(8)
DEFLATE_BIT = 0x08
COLUMN_TYPE_NAMES = (
    "group",
    "actor",
    "integer",
    "delta",
    "boolean",
    "string",
    "value metadata",
    "value",
)
_U32_MAX = 0xFFFF_FFFF
# Column types whose runs the checks here need, so they are always kept.
_KEEP_TYPES = frozenset({GROUP, VALUE_METADATA})


def read_column_metadata(buf: bytes, pos: int) -> tuple[list[tuple[int, int]], int]:
    """Read a column metadata block at ``buf[pos]``; return ``(columns, pos)``.

    ``columns`` holds ``(spec, length)`` pairs in order. The specifications must
    be sorted and distinct once the DEFLATE bit is ignored.
    """
    start = pos
    count, pos = read_uleb(buf, pos)
    if count * 2 > len(buf) - pos:
        raise TruncatedError(
            f"{count} columns declared, but only {len(buf) - pos} bytes remain", start
        )
    columns = []
    previous = -1
    for _ in range(count):
        spec_at = pos
        spec, pos = read_uleb(buf, pos)
        if spec > _U32_MAX:
            raise FormatError(f"column specification {spec} exceeds 32 bits", spec_at)
        length, pos = read_uleb(buf, pos)
        normalized = spec & ~DEFLATE_BIT
        if normalized <= previous:
            raise FormatError(
                f"column {spec:#x} is out of order or repeated (after {previous:#x})",
                spec_at,
            )
        previous = normalized
        columns.append((spec, length))
    return columns, pos


def locate_columns(
    buf: bytes, pos: int, metadata: list[tuple[int, int]], what: str
) -> tuple[list[tuple[int, int, int]], int]:
    """Find each column's data, which follows at ``buf[pos]`` in metadata order.

    Returns ``([(spec, start, end), ...], pos)`` with ``pos`` just past the data.
    """
    total = sum(length for _, length in metadata)
    if total > len(buf) - pos:
        raise TruncatedError(
            f"{what} columns declare {total} bytes of data, but only "
            f"{len(buf) - pos} remain",
            pos,
        )
    located = []
    for spec, length in metadata:
        located.append((spec, pos, pos + length))
        pos += length
    return located, pos


@dataclass(slots=True)
class Column:
    """One column: normalized ``spec`` (DEFLATE bit cleared) and its ``data``.

    ``offset`` is where the column's bytes start in the input; ``deflated`` says
    whether ``data`` was inflated from them.
    """

    spec: int
    data: bytes
    offset: int
    deflated: bool = False

    @property
    def column_id(self) -> int:
        """The column id: the specification without its type and DEFLATE bits."""
        return self.spec >> 4

    @property
    def column_type(self) -> int:
        """The column type, one of GROUP ... VALUE."""
        return self.spec & 0x07


@dataclass(slots=True)
class ColumnSet:
    """Decoded columns of one set: ``decoded`` by spec, and the set's ``rows``."""

    rows: int
    decoded: dict[int, Decoded]

    def runs(self, spec: int) -> list:
        """The kept ``(count, value)`` runs of column ``spec`` ([] if absent)."""
        found = self.decoded.get(spec)
        return found.runs if found is not None and found.runs is not None else []


def _describe(column: Column, names: dict) -> str:
    name = names.get(column.spec)
    kind = COLUMN_TYPE_NAMES[column.column_type]
    label = f"{name} column" if name else f"column {column.spec:#x}"
    return f"{label} ({kind}{', deflated' if column.deflated else ''})"


def _fail(column: Column, names: dict, reason: str, rel: int | None = 0, cls=None):
    """A FormatError (or ``cls``) for ``column``, at ``rel`` bytes into its data."""
    cls = cls or FormatError
    where = _describe(column, names)
    if column.deflated:
        inner = "" if rel is None else f" at offset {rel} of its inflated data"
        return cls(f"{where}: {reason}{inner}", column.offset)
    return cls(f"{where}: {reason}", column.offset + (rel or 0))


def _decode_one(column: Column, names: dict, keep: bool, budget: Budget):
    """Decode one column's data according to its type, keeping runs in budget."""
    col_type = column.column_type
    keep = keep or col_type in _KEEP_TYPES
    room = budget.runs_left()
    try:
        if col_type == BOOLEAN:
            found = decode_boolean(column.data, max_runs=room)
        elif col_type == VALUE:
            return Decoded(0, 0, None)
        elif col_type == STRING:
            found = decode_string_rle(column.data, keep=keep, max_runs=room)
        else:
            found = decode_int_rle(
                column.data, delta=col_type == DELTA, keep=keep, max_runs=room
            )
    except FormatError as exc:
        raise _fail(column, names, exc.reason, exc.offset, type(exc)) from exc
    if found.runs is not None:
        budget.add_runs(len(found.runs))
    return found


def decode_column_set(
    columns: list[Column],
    *,
    count_spec: int,
    actor_count: int,
    names: dict,
    budget: Budget,
    charge_rows: Callable[[int, int], None],
    what: str,
    keep: frozenset | None = None,
) -> ColumnSet:
    """Decode and cross-check one set of columns; return a ColumnSet.

    The set has as many rows as the column ``count_spec`` (the action column of
    an op set, the actor column of change metadata). Every column outside a
    group must have that many rows or none (an absent or empty column reads as
    nulls); a column in a group must have as many rows as the group's counts
    add up to, or none. A value column must hold exactly the values its
    metadata column describes, and actor columns may only index the
    ``actor_count`` actors. The rows are charged with ``charge_rows(rows,
    offset)`` and group entries to ``budget`` before any per-row work. The runs
    of the columns in ``keep`` (all, if None) are kept for the caller.
    """
    decoded: dict[int, Decoded] = {}
    group_totals = {}
    for column in columns:
        spec = column.spec
        col_type = column.column_type
        if col_type == VALUE and spec - 1 not in decoded:
            raise _fail(column, names, "value column without its metadata column")
        found = _decode_one(column, names, keep is None or spec in keep, budget)
        decoded[spec] = found
        if col_type == GROUP:
            total = sum(n * v for n, v in found.runs if v)
            budget.add_rows(total, column.offset)
            group_totals[column.column_id] = total
        elif col_type == ACTOR and found.top >= actor_count:
            raise _fail(
                column,
                names,
                f"actor index {found.top} is out of range ({actor_count} actors)",
                None,
            )

    rows = decoded[count_spec].rows if count_spec in decoded else 0
    charge_rows(rows, columns[0].offset if columns else 0)
    raw_columns = {c.spec: c for c in columns if c.column_type == VALUE}
    for column in columns:
        col_type = column.column_type
        if col_type == VALUE:
            continue
        if col_type == VALUE_METADATA:
            # An absent raw column is an empty one: the values must all be empty.
            raw = raw_columns.get(column.spec + 1, column)
            data = raw.data if raw is not column else b""
            try:
                check_values(decoded[column.spec].runs, data)
            except FormatError as exc:
                raise _fail(raw, names, exc.reason, exc.offset, type(exc)) from exc
        in_group = col_type != GROUP and column.column_id in group_totals
        expected = group_totals[column.column_id] if in_group else rows
        found = decoded[column.spec].rows
        if found not in (0, expected):
            scope = "its group's counts add up to" if in_group else f"the {what} has"
            raise _fail(column, names, f"has {found} rows but {scope} {expected}", None)
    return ColumnSet(rows=rows, decoded=decoded)
