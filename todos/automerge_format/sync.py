"""Automerge sync messages: the header fields and the chunks they carry.

A sync message (Automerge's sync protocol, ``rust/automerge/src/sync.rs`` in
automerge/automerge) is a type byte (``0x42``, or ``0x43`` for a message whose
changes are one compressed document), the sender's heads, the hashes it needs,
its "have" summaries (each a list of hashes and a Bloom filter), the changes as
a list of length-prefixed Automerge chunks, and optional flags. The server reads
it to take the chunks through the same write path as any upload; the engine
reads it again to update the sync state.

Public API: ``read_sync_message(data) -> SyncMessage``, ``SyncMessage``,
``SYNC_MESSAGE_TYPES``.
"""

from typing import NamedTuple

from .errors import FormatError, TruncatedError
from .fields import read_hashes, read_prefixed_bytes
from .leb128 import read_uleb

__all__ = ["read_sync_message", "SyncMessage", "SYNC_MESSAGE_TYPES"]

SYNC_MESSAGE_TYPES = (0x42, 0x43)  # V1 (a list of chunks), V2 (one document)


class SyncMessage(NamedTuple):
    """The fields of a sync message: hashes as bytes, ``changes`` as chunks."""

    version: int
    heads: tuple
    need: tuple
    changes: tuple


def read_sync_message(data: bytes) -> SyncMessage:
    """Read a sync message's heads, need and chunks; raise FormatError if it is not one.

    Counts are checked against the bytes that remain before anything is read for
    them, so a short message cannot make this allocate much.
    """
    if not data:
        raise TruncatedError("an empty sync message", 0)
    if data[0] not in SYNC_MESSAGE_TYPES:
        raise FormatError(
            f"not a sync message: it starts with byte 0x{data[0]:02x}, not 0x42 "
            "or 0x43",
            0,
        )
    try:
        heads, pos = read_hashes(data, 1, "head")
        need, pos = read_hashes(data, pos, "need")
        pos = _skip_haves(data, pos)
        changes, pos = _read_chunks(data, pos)
    except IndexError as exc:
        raise TruncatedError("the sync message ends early", len(data)) from exc
    return SyncMessage(data[0], heads, need, changes)


def _skip_haves(data, pos):
    count, pos = read_uleb(data, pos)
    if count > len(data) - pos:
        raise TruncatedError(f"{count} haves declared", pos)
    for _ in range(count):
        _, pos = read_hashes(data, pos, "last sync")
        _, pos = read_prefixed_bytes(data, pos, "Bloom filter")
    return pos


def _read_chunks(data, pos):
    count, pos = read_uleb(data, pos)
    if count > len(data) - pos:
        raise TruncatedError(f"{count} changes declared", pos)
    chunks = []
    for _ in range(count):
        chunk, pos = read_prefixed_bytes(data, pos, "change")
        chunks.append(chunk)
    return tuple(chunks), pos
