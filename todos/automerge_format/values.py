"""Raw value columns: checking values against their value-metadata column.

Public API: ``check_values(meta_runs, raw)``, the ``VALUE_*`` type codes and
``VALUE_TYPE_NAMES``. Per the spec's "raw value columns", each metadata value is
``(length << 4) | type``, and the raw column holds the values' bytes back to
back: nothing for null, false and true, LEB128 for uint, int, counter and
timestamp, 8 bytes for a float, UTF-8 for a string, anything for bytes and for
type codes this reader does not know.
"""

import re

from .errors import FormatError, TruncatedError
from .leb128 import read_sleb, read_uleb

__all__ = ["check_values", "VALUE_TYPE_NAMES", "VALUE_UINT", "VALUE_INT"]

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


def check_values(meta_runs: list, raw: bytes) -> None:
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
