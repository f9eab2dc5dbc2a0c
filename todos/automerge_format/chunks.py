"""Splitting Automerge bytes into chunks, checking each chunk's checksum.

Public API: ``parse_chunks(data, limits) -> list[ChangeChunk | DocumentChunk]``.

Every chunk starts with a header (spec: "chunk container"): the magic bytes
``85 6f 4a 83``, a 4-byte checksum, a chunk type byte (0 document, 1 change,
2 DEFLATE-compressed change), and the LEB128 length of the data that follows.
The checksum is the first 4 bytes of the SHA-256 of the type byte, the length
and the data; for a change, the whole SHA-256 is the change hash. A compressed
change is checksummed and hashed as the uncompressed change chunk it inflates to.
"""

import hashlib
import zlib

from .change import ChangeChunk, read_change
from .document import DocumentChunk, read_document
from .errors import ChecksumError, FormatError, TruncatedError
from .leb128 import read_uleb, write_uleb
from .limits import DEFAULT_LIMITS, Budget, Limits

__all__ = [
    "MAGIC_BYTES",
    "CHUNK_TYPE_DOCUMENT",
    "CHUNK_TYPE_CHANGE",
    "CHUNK_TYPE_COMPRESSED",
    "parse_chunks",
]

MAGIC_BYTES = b"\x85\x6f\x4a\x83"
CHUNK_TYPE_DOCUMENT = 0
CHUNK_TYPE_CHANGE = 1
CHUNK_TYPE_COMPRESSED = 2
_KNOWN_CHUNK_TYPES = (CHUNK_TYPE_DOCUMENT, CHUNK_TYPE_CHANGE, CHUNK_TYPE_COMPRESSED)
_LATER_CHUNK_TYPES = {3: "bundle (v0)", 4: "bundle"}
_CHECKSUM_AT = len(MAGIC_BYTES)
_TYPE_AT = _CHECKSUM_AT + 4


def parse_chunks(
    data: bytes, limits: Limits = DEFAULT_LIMITS
) -> list[ChangeChunk | DocumentChunk]:
    """Parse a concatenation of Automerge chunks, in order.

    Accepts the output of ``save()``, ``saveIncremental()``, ``saveSince()`` and
    ``getChanges()``, concatenated in any way. Empty ``data`` gives an empty
    list. Raises a FormatError subclass, naming the fault and its offset, for
    anything malformed, and LimitError if ``limits`` are exceeded.
    """
    if not isinstance(data, bytes):
        data = bytes(data)
    budget = Budget(limits)
    chunks: list[ChangeChunk | DocumentChunk] = []
    pos = 0
    while pos < len(data):
        budget.add_chunk(pos)
        try:
            chunk, pos = _read_chunk(data, pos, budget)
        except FormatError:
            raise
        except (IndexError, KeyError, ValueError, OverflowError, zlib.error) as exc:
            # Every fault should already be a FormatError; this is the backstop.
            raise FormatError(
                f"malformed chunk ({type(exc).__name__}: {exc})", pos
            ) from exc
        chunks.append(chunk)
    return chunks


def _read_header(data: bytes, pos: int) -> tuple[bytes, int, int, int]:
    """Read a chunk header at ``pos``: ``(checksum, type, data_start, data_end)``."""
    magic = data[pos : pos + len(MAGIC_BYTES)]
    if magic != MAGIC_BYTES:
        if len(magic) < len(MAGIC_BYTES) and MAGIC_BYTES.startswith(magic):
            raise TruncatedError("data ends inside a chunk header", pos)
        raise FormatError(
            f"bad magic bytes {magic.hex(' ')} (expected {MAGIC_BYTES.hex(' ')}): "
            "not the start of an Automerge chunk",
            pos,
        )
    if len(data) - pos <= _TYPE_AT + 1:
        raise TruncatedError("data ends inside a chunk header", pos)
    checksum = data[pos + _CHECKSUM_AT : pos + _TYPE_AT]
    chunk_type = data[pos + _TYPE_AT]
    if chunk_type not in _KNOWN_CHUNK_TYPES:
        later = _LATER_CHUNK_TYPES.get(chunk_type)
        detail = f" ({later}, not supported)" if later else ""
        raise FormatError(f"unknown chunk type {chunk_type}{detail}", pos + _TYPE_AT)
    length_at = pos + _TYPE_AT + 1
    length, start = read_uleb(data, length_at)
    if length > len(data) - start:
        raise TruncatedError(
            f"chunk declares {length} bytes of data, but only {len(data) - start} "
            "remain",
            length_at,
        )
    return checksum, chunk_type, start, start + length


def _check_checksum(stored: bytes, digest: bytes, pos: int) -> None:
    if digest[:4] != stored:
        raise ChecksumError(
            f"chunk checksum {stored.hex()} does not match {digest[:4].hex()}, the "
            "checksum of its contents (the chunk is corrupt)",
            pos + _CHECKSUM_AT,
        )


def _read_chunk(data: bytes, pos: int, budget: Budget) -> tuple[object, int]:
    """Read the chunk at ``pos``; return ``(chunk, end)``."""
    checksum, chunk_type, start, end = _read_header(data, pos)
    raw = data[pos:end]
    if chunk_type == CHUNK_TYPE_COMPRESSED:
        budget.add_changes(1, pos)
        inflated = budget.inflate(data[start:end], start, "compressed change chunk")
        header = bytes([CHUNK_TYPE_CHANGE]) + write_uleb(len(inflated))
        digest = hashlib.sha256(header + inflated).digest()
        _check_checksum(checksum, digest, pos)
        try:
            return read_change(inflated, budget, raw=raw, hash=digest), end
        except FormatError as exc:
            raise exc.reframe("the inflated change", start) from None
    digest = hashlib.sha256(memoryview(data)[pos + _TYPE_AT : end]).digest()
    _check_checksum(checksum, digest, pos)
    body = data[start:end]
    try:
        if chunk_type == CHUNK_TYPE_CHANGE:
            budget.add_changes(1, pos)
            return read_change(body, budget, raw=raw, hash=digest), end
        return read_document(body, budget, raw=raw), end
    except FormatError as exc:
        raise exc.shift(start) from None
