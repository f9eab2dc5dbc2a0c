"""Decoders for the column encodings of the Automerge binary format.

Public API (each works on the bytes of one column; error offsets are relative to
the start of those bytes):

- ``decode_int_rle(buf, delta=..., keep=...) -> Decoded``: run-length encoded
  integers (actor, integer, group and value-metadata columns; with ``delta``,
  delta columns).
- ``decode_string_rle(buf) -> Decoded``: run-length encoded strings.
- ``decode_boolean(buf) -> Decoded``: alternating run lengths of false and true.
- ``decode_rle(buf, read_value) -> runs``: run-length encoding of any values.
- ``check_values(meta_runs, raw)``: a raw value column against its metadata.
- ``row_count``, ``expand``, ``expand_delta``: helpers.

Runs are ``(count, value)`` pairs with ``value`` None for a run of nulls; a literal
run becomes one pair per value. Nothing is expanded per row unless asked for, so
a run that claims 2**60 rows costs no more memory than one that claims 2.
"""

import re
from collections.abc import Callable

from .errors import FormatError, TruncatedError
from .leb128 import I64_MAX, I64_MIN, read_sleb, read_uleb

__all__ = [
    "Decoded",
    "decode_rle",
    "decode_int_rle",
    "decode_string_rle",
    "decode_boolean",
    "read_string",
    "check_values",
    "row_count",
    "expand",
    "expand_delta",
    "VALUE_TYPE_NAMES",
]

Runs = list[tuple[int, object]]

# Value metadata: (length << 4) | type code, per the spec's "raw value columns".
VALUE_NULL, VALUE_FALSE, VALUE_TRUE, VALUE_UINT, VALUE_INT = 0, 1, 2, 3, 4
VALUE_FLOAT, VALUE_STRING, VALUE_BYTES, VALUE_COUNTER, VALUE_TIMESTAMP = 5, 6, 7, 8, 9
VALUE_TYPE_NAMES = {
    VALUE_NULL: "null",
    VALUE_FALSE: "false",
    VALUE_TRUE: "true",
    VALUE_UINT: "uint",
    VALUE_INT: "int",
    VALUE_FLOAT: "float",
    VALUE_STRING: "string",
    VALUE_BYTES: "bytes",
    VALUE_COUNTER: "counter",
    VALUE_TIMESTAMP: "timestamp",
}
_EMPTY_TYPES = frozenset({VALUE_NULL, VALUE_FALSE, VALUE_TRUE})
_LEB_TYPES = {
    VALUE_UINT: read_uleb,
    VALUE_INT: read_sleb,
    VALUE_COUNTER: read_sleb,
    VALUE_TIMESTAMP: read_sleb,
}
_CONTINUATION_BYTE = re.compile(rb"[\x80-\xbf]")


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


def decode_rle(buf: bytes, read_value: Callable = read_uleb) -> Runs:
    """Decode a run-length encoded column into ``(count, value)`` runs.

    Each run starts with a signed LEB128 count: n > 0 is one value repeated n
    times, n < 0 is -n literal values, and 0 is followed by an unsigned count of
    nulls. ``read_value(buf, pos) -> (value, pos)`` reads one value.
    """
    if read_value is read_uleb:
        return decode_int_rle(buf).runs
    if read_value is read_sleb:
        return decode_int_rle(buf, delta=True).runs
    if read_value is read_string:
        return decode_string_rle(buf).runs
    runs: Runs = []
    pos = 0
    end = len(buf)
    while pos < end:
        start = pos
        count, pos = read_sleb(buf, pos)
        if count > 0:
            value, pos = read_value(buf, pos)
            runs.append((count, value))
        elif count < 0:
            _check_literal(count, end - pos, start)
            for _ in range(-count):
                value, pos = read_value(buf, pos)
                runs.append((1, value))
        else:
            nulls, pos = read_uleb(buf, pos)
            runs.append((nulls, None))
    return runs


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


def _delta_overflow(total: int, start: int) -> FormatError:
    return FormatError(
        f"delta-encoded values leave the 64-bit range (reach {total})", start
    )


def decode_int_rle(buf: bytes, *, delta: bool = False, keep: bool = True) -> Decoded:
    """Decode a run-length encoded column of LEB128 integers.

    Values are unsigned, or signed deltas if ``delta`` (whose running total must
    stay in the signed 64-bit range). Runs are kept only if ``keep``. This is the
    hot loop of the reader, so one- and two-byte numbers are decoded inline.
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


def decode_string_rle(buf: bytes, *, keep: bool = True) -> Decoded:
    """Decode a run-length encoded column of length-prefixed UTF-8 strings."""
    runs: Runs | None = [] if keep else None
    rows = nulls = 0
    pos = 0
    end = len(buf)
    while pos < end:
        start = pos
        count, pos = read_sleb(buf, pos)
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


def decode_boolean(buf: bytes) -> Decoded:
    """Decode a boolean column: alternating run lengths of false, true, false...

    ``runs`` holds ``(count, value)`` pairs, starting with false.
    """
    runs: Runs = []
    rows = 0
    value = True
    pos = 0
    end = len(buf)
    while pos < end:
        count, pos = read_uleb(buf, pos)
        value = not value
        runs.append((count, value))
        rows += count
    return Decoded(rows, 0, runs)


def row_count(runs: Runs) -> int:
    """The number of rows in ``runs``."""
    return sum(count for count, _ in runs)


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


def check_values(meta_runs: Runs, raw: bytes) -> None:
    """Check a raw value column against the runs of its value-metadata column.

    Each metadata value is ``(length << 4) | type``; the raw column must hold
    exactly the values described, each decoding as its type says. Error offsets
    are relative to ``raw``.
    """
    pos = 0
    end = len(raw)
    for count, meta in meta_runs:
        if meta is None or not count:
            continue
        length = meta >> 4
        code = meta & 0x0F
        if length == 0:
            if code in _LEB_TYPES or code == VALUE_FLOAT:
                raise FormatError(
                    f"value metadata {meta} gives a {VALUE_TYPE_NAMES[code]} value "
                    "a length of 0",
                    pos,
                )
            continue
        if code in _EMPTY_TYPES:
            raise FormatError(
                f"value metadata {meta} gives a {VALUE_TYPE_NAMES[code]} value a "
                f"length of {length} (must be 0)",
                pos,
            )
        if code == VALUE_FLOAT and length != 8:
            raise FormatError(
                f"value metadata {meta} gives a float a length of {length} (must be 8)",
                pos,
            )
        total = count * length
        if total > end - pos:
            raise TruncatedError(
                f"value metadata describes {total} more bytes of values, but the "
                f"raw value column has {end - pos} left",
                pos,
            )
        if code == VALUE_STRING:
            _check_utf8_pieces(raw, pos, count, length)
        elif code in _LEB_TYPES:
            read = _LEB_TYPES[code]
            for start in range(pos, pos + total, length):
                _, stop = read(raw, start)
                if stop != start + length:
                    raise FormatError(
                        f"{VALUE_TYPE_NAMES[code]} value does not fill its declared "
                        f"length of {length} bytes",
                        start,
                    )
        pos += total
    if pos != end:
        raise FormatError(
            f"raw value column has {end - pos} bytes beyond the values its "
            "metadata describes",
            pos,
        )


def _check_utf8_pieces(raw: bytes, pos: int, count: int, length: int) -> None:
    """Check that ``count`` strings of ``length`` bytes at ``pos`` are UTF-8.

    Equivalent to decoding each piece: the whole region must be UTF-8 and no
    piece may start with a continuation byte (so no character spans two pieces).
    """
    region = raw[pos : pos + count * length]
    if length == 1:
        if not region.isascii():
            bad = next(i for i, b in enumerate(region) if b >= 0x80)
            raise FormatError("string value is not valid UTF-8", pos + bad)
        return
    try:
        region.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = pos + exc.start // length * length
        raise FormatError(
            f"string value is not valid UTF-8 ({exc.reason})", start
        ) from exc
    if count > 1:
        match = _CONTINUATION_BYTE.search(region[length::length])
        if match:
            start = pos + (match.start() + 1) * length
            raise FormatError(
                "string value is not valid UTF-8 (starts inside a character)", start
            )
