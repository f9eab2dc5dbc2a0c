"""Header fields shared by change and document chunks.

Public API: ``read_prefixed_bytes``, ``read_hashes`` and ``read_actors``, each
``(buf, pos, ...) -> (value, pos)``. Counts are checked against the bytes that
remain before anything is allocated for them.
"""

from .errors import TruncatedError
from .leb128 import read_uleb

__all__ = [
    "HASH_SIZE",
    "read_prefixed_bytes",
    "read_hashes",
    "read_actors",
]

HASH_SIZE = 32


def read_prefixed_bytes(buf: bytes, pos: int, what: str) -> tuple[bytes, int]:
    """Read a LEB128 length and that many bytes of ``what``."""
    start = pos
    length, pos = read_uleb(buf, pos)
    if length > len(buf) - pos:
        raise TruncatedError(
            f"{what} declares {length} bytes, but only {len(buf) - pos} remain",
            start,
        )
    return buf[pos : pos + length], pos + length


def read_hashes(buf: bytes, pos: int, what: str) -> tuple[tuple[bytes, ...], int]:
    """Read a LEB128 count and that many 32-byte change hashes."""
    start = pos
    count, pos = read_uleb(buf, pos)
    if count * HASH_SIZE > len(buf) - pos:
        raise TruncatedError(
            f"{count} {what} hashes declared, but only {len(buf) - pos} bytes remain",
            start,
        )
    hashes = tuple(
        buf[i : i + HASH_SIZE] for i in range(pos, pos + count * HASH_SIZE, HASH_SIZE)
    )
    return hashes, pos + count * HASH_SIZE


def read_actors(buf: bytes, pos: int, what: str) -> tuple[tuple[bytes, ...], int]:
    """Read a LEB128 count and that many length-prefixed actor IDs."""
    start = pos
    count, pos = read_uleb(buf, pos)
    if count > len(buf) - pos:
        raise TruncatedError(
            f"{count} {what} declared, but only {len(buf) - pos} bytes remain", start
        )
    actors = []
    for _ in range(count):
        actor, pos = read_prefixed_bytes(buf, pos, "actor ID")
        actors.append(actor)
    return tuple(actors), pos
