"""LEB128 integers, as used throughout the Automerge binary format.

Public API:

- ``read_uleb(buf, pos) -> (value, pos)``: an unsigned LEB128 (at most 64 bits).
- ``read_sleb(buf, pos) -> (value, pos)``: a signed LEB128 (64-bit two's complement).
- ``write_uleb(value) -> bytes`` and ``write_sleb(value) -> bytes``: the encoders.

Readers are strict, as Automerge's own chunk parser is: a value that needs more than
64 bits, or an encoding with redundant trailing bytes ("overlong"), is an error.
"""

from .errors import FormatError, TruncatedError

__all__ = ["read_uleb", "read_sleb", "write_uleb", "write_sleb", "U64_MAX"]

U64_MAX = (1 << 64) - 1
I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1
MAX_LEB_BYTES = 10  # ceil(64 / 7)


def read_uleb(buf: bytes, pos: int) -> tuple[int, int]:
    """Read an unsigned LEB128 at ``buf[pos]``; return ``(value, next_pos)``.

    Raises TruncatedError if ``buf`` ends inside the number and FormatError if it
    does not fit in 64 bits or is overlong.
    """
    start = pos
    try:
        byte = buf[pos]
        if byte < 0x80:
            return byte, pos + 1
        result = byte & 0x7F
        shift = 7
        pos += 1
        while True:
            byte = buf[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift >= 7 * MAX_LEB_BYTES:
                raise FormatError(
                    f"LEB128 longer than {MAX_LEB_BYTES} bytes (overflow)", start
                )
    except IndexError as exc:
        raise TruncatedError("data ends inside a LEB128 number", start) from exc
    if byte == 0:
        raise FormatError("overlong LEB128 (redundant trailing zero byte)", start)
    if result > U64_MAX:
        raise FormatError("LEB128 value does not fit in 64 bits (overflow)", start)
    return result, pos


def read_sleb(buf: bytes, pos: int) -> tuple[int, int]:
    """Read a signed LEB128 at ``buf[pos]``; return ``(value, next_pos)``.

    Raises TruncatedError if ``buf`` ends inside the number and FormatError if it
    does not fit in a signed 64-bit integer or is overlong.
    """
    start = pos
    try:
        byte = buf[pos]
        if byte < 0x80:
            return (byte - 0x80 if byte & 0x40 else byte), pos + 1
        result = byte & 0x7F
        shift = 7
        pos += 1
        while True:
            prev = byte
            byte = buf[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
            if shift >= 7 * MAX_LEB_BYTES:
                raise FormatError(
                    f"LEB128 longer than {MAX_LEB_BYTES} bytes (overflow)", start
                )
    except IndexError as exc:
        raise TruncatedError("data ends inside a LEB128 number", start) from exc
    # The last byte is redundant if it only repeats the sign already carried by
    # bit 6 of the byte before it.
    if (byte == 0 and not prev & 0x40) or (byte == 0x7F and prev & 0x40):
        raise FormatError("overlong signed LEB128 (redundant sign byte)", start)
    if byte & 0x40:
        result -= 1 << shift
    if not I64_MIN <= result <= I64_MAX:
        raise FormatError("signed LEB128 does not fit in 64 bits (overflow)", start)
    return result, pos


def write_uleb(value: int) -> bytes:
    """Encode a non-negative integer below 2**64 as unsigned LEB128."""
    if not 0 <= value <= U64_MAX:
        raise ValueError(f"unsigned LEB128 takes 0 <= value < 2**64, not {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def write_sleb(value: int) -> bytes:
    """Encode an integer in the signed 64-bit range as signed LEB128."""
    if not I64_MIN <= value <= I64_MAX:
        raise ValueError(f"signed LEB128 takes a 64-bit integer, not {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40):
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)
