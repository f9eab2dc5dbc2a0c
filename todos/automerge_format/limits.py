"""Size and count limits for untrusted input, and bounded DEFLATE inflation.

Public API: ``Limits``, ``DEFAULT_LIMITS``. Every count read from the input is
checked against the bytes that remain or against these limits before anything is
allocated for it, so a few hostile bytes cannot make the reader allocate much.
"""

import zlib
from dataclasses import dataclass

from .errors import FormatError, LimitError, TruncatedError

__all__ = ["Limits", "DEFAULT_LIMITS"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits on one ``parse_chunks`` call; exceeding one raises LimitError.

    - ``max_chunks``: chunks in the input.
    - ``max_changes``: changes, counting each change chunk and each change
      listed in a document chunk.
    - ``max_inflated_bytes``: bytes produced by DEFLATE (compressed change chunks
      and compressed document columns), over the whole input.
    - ``max_ops``: ops declared by the action columns (rows), over the whole
      input.
    """

    max_chunks: int = 10_000
    max_changes: int = 1_000_000
    max_inflated_bytes: int = 64 * 1024 * 1024
    max_ops: int = 10_000_000


DEFAULT_LIMITS = Limits()


class Budget:
    """What one ``parse_chunks`` call has used of its ``Limits`` so far."""

    __slots__ = ("limits", "chunks", "changes", "inflated", "ops")

    def __init__(self, limits: Limits):
        self.limits = limits
        self.chunks = 0
        self.changes = 0
        self.inflated = 0
        self.ops = 0

    def changes_left(self) -> int:
        """How many more changes may be declared."""
        return self.limits.max_changes - self.changes

    def ops_left(self) -> int:
        """How many more ops may be declared."""
        return self.limits.max_ops - self.ops

    def add_chunk(self, offset: int) -> None:
        """Count one more chunk, starting at ``offset``."""
        self.chunks += 1
        if self.chunks > self.limits.max_chunks:
            raise LimitError(
                f"more than max_chunks={self.limits.max_chunks} chunks", offset
            )

    def add_changes(self, count: int, offset: int) -> None:
        """Count ``count`` more changes, declared at ``offset``."""
        self.changes += count
        if self.changes > self.limits.max_changes:
            raise LimitError(
                f"more than max_changes={self.limits.max_changes} changes", offset
            )

    def add_ops(self, count: int, offset: int) -> None:
        """Count ``count`` more ops, declared at ``offset``."""
        self.ops += count
        if self.ops > self.limits.max_ops:
            raise LimitError(
                f"more than max_ops={self.limits.max_ops} operations", offset
            )

    def inflate(self, data: bytes, offset: int, what: str) -> bytes:
        """Inflate raw DEFLATE ``data`` (found at ``offset``), within the budget.

        Decompression stops as soon as the output would pass the remaining
        ``max_inflated_bytes``, so a DEFLATE bomb costs at most that much memory.
        """
        room = self.limits.max_inflated_bytes - self.inflated
        inflater = zlib.decompressobj(wbits=-15)
        try:
            out = inflater.decompress(data, room + 1)
        except zlib.error as exc:
            raise FormatError(f"bad DEFLATE data in {what}: {exc}", offset) from exc
        if len(out) > room:
            raise LimitError(
                f"{what} inflates past max_inflated_bytes="
                f"{self.limits.max_inflated_bytes}",
                offset,
            )
        if not inflater.eof:
            raise TruncatedError(f"DEFLATE stream in {what} is incomplete", offset)
        if inflater.unused_data:
            raise FormatError(
                f"{len(inflater.unused_data)} bytes follow the DEFLATE stream in "
                f"{what}",
                offset,
            )
        self.inflated += len(out)
        return out
