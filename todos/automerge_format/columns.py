"""Column metadata, and counting the rows of a run-length encoded column.

Public API:

- ``read_column_metadata(buf, pos) -> (list[(spec, length)], pos)``: a column
  metadata block (count, then specification and length of each column).
- ``locate_columns(buf, pos, metadata, what)``: where each column's data lies.
- ``count_rows(buf, most) -> int``: the rows of a run-length encoded column of
  unsigned integers, without keeping its values; ``column_rows(data, most,
  name, offset, inflated)``: the same for a named column found at ``offset``.
- ``ACTION`` (the action column of op columns: one row per op),
  ``CHANGE_ACTOR`` (the actor column of a document's change columns: one row
  per change) and ``DEFLATE_BIT``.

A column specification is a 32-bit integer: the column id in the high 28 bits,
bit 3 set if the column's data is DEFLATE-compressed, and the column type in
bits 0-2. Columns of one set are sorted by specification, ignoring the DEFLATE
bit, so each specification names at most one column.
"""

from .errors import FormatError, TruncatedError
from .leb128 import read_sleb, read_uleb

__all__ = [
    "ACTION",
    "CHANGE_ACTOR",
    "DEFLATE_BIT",
    "read_column_metadata",
    "locate_columns",
    "count_rows",
    "column_rows",
]

ACTION = 0x42  # column 4, integer: the op's action (op columns of both chunks)
CHANGE_ACTOR = 0x01  # column 0, actor: the change's actor (document chunks)
DEFLATE_BIT = 0x08
_U32_MAX = 0xFFFF_FFFF


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


def count_rows(buf: bytes, most: int) -> int:
    """The rows of run-length encoded unsigned integers in ``buf``.

    Runs are a signed LEB128 count, then: one value repeated ``count`` times
    (count > 0); ``-count`` literal values (count < 0); or an unsigned LEB128
    number of nulls (count 0). Values are skipped, not kept. Counting stops
    once it passes ``most`` (the caller's limit), so the work is bounded by it:
    every run adds a row at least, as an empty run of nulls, which Automerge
    never writes, is refused. Error offsets are relative to ``buf``.
    """
    rows = pos = 0
    end = len(buf)
    while pos < end and rows <= most:
        start = pos
        count, pos = read_sleb(buf, pos)
        if count > 0:
            _, pos = read_uleb(buf, pos)
            rows += count
        elif count < 0:
            rows -= count
            if rows > most:
                break
            pos = _skip_literal(buf, pos, -count, start)
        else:
            nulls, pos = read_uleb(buf, pos)
            if not nulls:
                raise FormatError("empty run of nulls", start)
            rows += nulls
    return rows


def _skip_literal(buf: bytes, pos: int, count: int, start: int) -> int:
    """Skip ``count`` LEB128 values at ``buf[pos]``; return the position after."""
    if count > len(buf) - pos:
        raise TruncatedError(
            f"literal run of {count} values, but only {len(buf) - pos} bytes "
            "remain in the column",
            start,
        )
    if buf[pos : pos + count].isascii():  # one byte each, as small values are
        return pos + count
    for _ in range(count):
        _, pos = read_uleb(buf, pos)
    return pos


def column_rows(
    data: bytes, most: int, name: str, offset: int, inflated: bool = False
) -> int:
    """``count_rows`` of column ``name``, whose bytes start at ``offset``.

    Errors name the column and point at the fault, or for ``inflated`` data at
    the DEFLATE stream, with the position within the inflated data in the
    message.
    """
    try:
        return count_rows(data, most)
    except FormatError as exc:
        if inflated:
            where = f" at offset {exc.offset} of its inflated data"
            raise type(exc)(f"{name}: {exc.reason}{where}", offset) from exc
        raise type(exc)(f"{name}: {exc.reason}", offset + exc.offset) from exc
