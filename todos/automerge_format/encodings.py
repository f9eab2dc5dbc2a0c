"""Decoders for the column encodings of the Automerge binary format.

Public API (each works on the bytes of one column; error offsets are relative to
the start of those bytes):

- ``decode_int_rle(buf, delta=..., keep=...) -> Decoded``: run-length encoded
  integers (actor, integer, group and value-metadata columns; with ``delta``,
  delta columns).
- ``decode_string_rle(buf) -> Decoded``: run-length encoded strings.
- ``decode_boolean(buf) -> Decoded``: alternating run lengths of false and true.
- ``read_string(buf, pos) -> (str, pos)``: one length-prefixed UTF-8 string.
- ``expand``, ``expand_delta``: runs to one value per row.

Runs are ``(count, value)`` pairs with ``value`` None for a run of nulls; a literal
run becomes one pair per value. Nothing is expanded per row unless asked for, so
a run that claims 2**60 rows costs no more memory than one that claims 2.
"""

from .errors import FormatError, LimitError, TruncatedError
from .leb128 import I64_MAX, I64_MIN, read_sleb, read_uleb

__all__ = [
    "Decoded",
    "decode_int_rle",
    "decode_string_rle",
    "decode_boolean",
    "read_string",
    "check_canonical",
    "expand",
    "expand_delta",
]

Runs = list[tuple[int, object]]
NO_LIMIT = 1 << 62


def read_string(buf: bytes, pos: int) -> tuple[str, int]:
    """Read a length-prefixed UTF-8 string at ``buf[pos]``; return ``(str, pos)``."""
    length, start = read_uleb(buf, pos)
    end = start + length
    if end > len(buf):
        raise TruncatedError(
            f"string of {length} bytes runs past the end of the data", pos
        )
    try:
        return buf[start:end].decode("utf-8"), end
    except UnicodeDecodeError as exc:
        raise FormatError(f"string is not valid UTF-8 ({exc.reason})", start) from exc


class Decoded:
    """A decoded column: ``rows``, ``nulls`` and ``runs`` (None unless kept).

    ``low`` and ``top`` are the smallest and largest non-null values of an
    integer column (for a delta column, of the running totals); with no
    non-null values they are 0 and -1.
    """

    __slots__ = ("rows", "nulls", "runs", "low", "top")

    def __init__(
        self, rows: int, nulls: int, runs: Runs | None, low: int = 0, top: int = -1
    ):
        self.rows = rows
        self.nulls = nulls
        self.runs = runs
        self.low = low
        self.top = top


def _check_literal(count: int, remaining: int, start: int) -> None:
    if -count > remaining:
        raise TruncatedError(
            f"literal run of {-count} values, but only {remaining} bytes remain "
            "in the column",
            start,
        )


def _check_room(runs: Runs, new: int, max_runs: int, start: int) -> None:
    if len(runs) + new > max_runs:
        raise LimitError(f"more than max_runs={max_runs} runs to keep in memory", start)


def _delta_overflow(total: int, start: int) -> FormatError:
    return FormatError(
        f"delta-encoded values leave the 64-bit range (reach {total})", start
    )


def decode_int_rle(
    buf: bytes, *, delta: bool = False, keep: bool = True, max_runs: int = NO_LIMIT
) -> Decoded:
    """Decode a run-length encoded column of LEB128 integers.

    Values are unsigned, or signed deltas if ``delta`` (whose running total must
    stay in the signed 64-bit range). Runs are kept only if ``keep``, at most
    ``max_runs`` of them (LimitError beyond). This is the hot loop of the reader,
    so one- and two-byte numbers are decoded inline.
    """
    read_value = read_sleb if delta else read_uleb
    runs: Runs | None = [] if keep else None
    rows = nulls = 0
    low, top = 1 << 64, -(1 << 64)  # no values yet
    total = 0
    pos = 0
    start = 0
    end = len(buf)
    try:
        while pos < end:
            start = pos
            byte = buf[pos]
            if byte < 0x40:
                count = byte
                pos += 1
            elif byte < 0x80:
                count = byte - 0x80
                pos += 1
            else:
                count, pos = read_sleb(buf, pos)
            if keep:
                _check_room(runs, -count if count < 0 else 1, max_runs, start)
            if count > 0:
                byte = buf[pos]
                if byte < 0x80:
                    value = byte - 0x80 if delta and byte >= 0x40 else byte
                    pos += 1
                elif (second := buf[pos + 1]) < 0x80 and second != (
                    0x7F if delta and byte & 0x40 else 0
                ):  # a two-byte number that is not overlong
                    value = (byte & 0x7F) | (second << 7)
                    if delta and second & 0x40:
                        value -= 0x4000
                    pos += 2
                else:
                    value, pos = read_value(buf, pos)
                rows += count
                if keep:
                    runs.append((count, value))
                if delta:
                    # The totals move monotonically, so the ends bound the run.
                    first = total + value
                    total += count * value
                    if value < 0:
                        first, value = total, first
                    else:
                        value = total
                else:
                    first = value
                if first < low:
                    low = first
                if value > top:
                    top = value
            elif count < 0:
                if -count > end - pos:
                    _check_literal(count, end - pos, start)
                rows -= count
                for _ in range(-count):
                    byte = buf[pos]
                    if byte < 0x80:
                        value = byte - 0x80 if delta and byte >= 0x40 else byte
                        pos += 1
                    elif (second := buf[pos + 1]) < 0x80 and second != (
                        0x7F if delta and byte & 0x40 else 0
                    ):  # a two-byte number that is not overlong
                        value = (byte & 0x7F) | (second << 7)
                        if delta and second & 0x40:
                            value -= 0x4000
                        pos += 2
                    else:
                        value, pos = read_value(buf, pos)
                    if keep:
                        runs.append((1, value))
                    if delta:
                        total += value
                        if not I64_MIN <= total <= I64_MAX:
                            raise _delta_overflow(total, start)
                        value = total
                    if value < low:
                        low = value
                    if value > top:
                        top = value
            else:
                byte = buf[pos]
                if byte < 0x80:
                    count = byte
                    pos += 1
                else:
                    count, pos = read_uleb(buf, pos)
                rows += count
                nulls += count
                if keep:
                    runs.append((count, None))
            if delta and not I64_MIN <= total <= I64_MAX:
                raise _delta_overflow(total, start)
    except IndexError as exc:
        raise TruncatedError("column data ends inside a run", start) from exc
    if rows == nulls:
        low, top = 0, -1
    return Decoded(rows, nulls, runs, low, top)


def decode_string_rle(
    buf: bytes, *, keep: bool = True, max_runs: int = NO_LIMIT
) -> Decoded:
    """Decode a run-length encoded column of length-prefixed UTF-8 strings.

    Runs are kept only if ``keep``, at most ``max_runs`` of them.
    """
    runs: Runs | None = [] if keep else None
    rows = nulls = 0
    pos = 0
    end = len(buf)
    while pos < end:
        start = pos
        count, pos = read_sleb(buf, pos)
        if keep:
            _check_room(runs, -count if count < 0 else 1, max_runs, start)
        if count > 0:
            value, pos = read_string(buf, pos)
            rows += count
            if keep:
                runs.append((count, value))
        elif count < 0:
            _check_literal(count, end - pos, start)
            rows -= count
            for _ in range(-count):
                value, pos = read_string(buf, pos)
                if keep:
                    runs.append((1, value))
        else:
            count, pos = read_uleb(buf, pos)
            rows += count
            nulls += count
            if keep:
                runs.append((count, None))
    return Decoded(rows, nulls, runs)


def decode_boolean(buf: bytes, *, max_runs: int = NO_LIMIT) -> Decoded:
    """Decode a boolean column: alternating run lengths of false, true, false...

    ``runs`` holds ``(count, value)`` pairs, starting with false; at most
    ``max_runs`` of them.
    """
    runs: Runs = []
    rows = 0
    value = True
    pos = 0
    end = len(buf)
    while pos < end:
        _check_room(runs, 1, max_runs, pos)
        count, pos = read_uleb(buf, pos)
        value = not value
        runs.append((count, value))
        rows += count
    return Decoded(rows, 0, runs)


def expand(runs: Runs) -> list:
    """Expand runs to one value per row (callers bound the row count first)."""
    out: list = []
    for count, value in runs:
        if count == 1:
            out.append(value)
        else:
            out.extend([value] * count)
    return out


def expand_delta(runs: Runs) -> list:
    """Expand delta-encoded runs to absolute values per row (None for nulls)."""
    out: list = []
    total = 0
    for count, delta in runs:
        if delta is None:
            out.extend([None] * count)
        elif delta == 0:
            out.extend([total] * count)
        else:
            out.extend(range(total + delta, total + delta * count + delta, delta))
            total += delta * count
    return out


def check_canonical(buf: bytes, *, strings: bool = False, signed: bool = False) -> None:
    """Check that an RLE column is encoded the one way Automerge 3 accepts.

    Automerge writes each column canonically and, since 3.x, refuses a document
    chunk whose op columns are not: no repeat run of fewer than 2 values, no two
    equal values next to each other in a literal run, no run that could have
    been merged with the one before it (equal values at the boundary, adjacent
    literal runs, adjacent null runs) and no empty null run. ``buf`` must already
    have decoded without error; values are compared as encoded (deltas for a
    delta column). Error offsets are relative to ``buf``.
    """
    read_value = read_string if strings else read_sleb if signed else read_uleb
    pos, end = 0, len(buf)
    previous = None  # "run", "literal" or "null"
    last = object()  # the last value of the previous run, if it had values
    while pos < end:
        start = pos
        count, pos = read_sleb(buf, pos)
        if count > 0:
            value, pos = read_value(buf, pos)
            if count < 2:
                raise FormatError("repeat run of fewer than 2 values", start)
            if value == last:
                raise FormatError("run repeats the value before it", start)
            previous, last = "run", value
        elif count < 0:
            if previous == "literal":
                raise FormatError("two literal runs next to each other", start)
            for _ in range(-count):
                value, pos = read_value(buf, pos)
                if value == last:
                    raise FormatError("literal run repeats a value", start)
                last = value
            previous = "literal"
        else:
            nulls, pos = read_uleb(buf, pos)
            if not nulls or previous == "null":
                raise FormatError("empty or repeated null run", start)
            previous, last = "null", object()
