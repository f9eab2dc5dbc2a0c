"""Errors raised while reading Automerge bytes.

Every fault in the input raises ``FormatError`` or one of its subclasses, with a
message that names the fault and the byte offset where it was found. ``offset`` is
an index into the bytes given to ``parse_chunks``; for data inside a DEFLATE stream
it is the start of that stream, and the message also gives the position within the
inflated data.
"""

__all__ = ["FormatError", "TruncatedError", "ChecksumError", "LimitError"]


class FormatError(ValueError):
    """The bytes are not well-formed Automerge data."""

    def __init__(self, reason: str, offset: int | None = None):
        self.reason = reason
        self.offset = offset
        super().__init__(self._text())

    def _text(self) -> str:
        if self.offset is None:
            return self.reason
        return f"{self.reason} at offset {self.offset}"

    def shift(self, delta: int) -> "FormatError":
        """Move ``offset`` by ``delta`` (for errors found in a slice); return self."""
        if self.offset is not None:
            self.offset += delta
            self.args = (self._text(),)
        return self

    def reframe(self, where: str, offset: int) -> "FormatError":
        """Restate an error found in inflated data: name ``where``, point at ``offset``.

        The old offset (within the inflated bytes) moves into the message, and
        ``offset`` becomes the position of the DEFLATE stream in the input.
        """
        inner = "" if self.offset is None else f" at offset {self.offset}"
        self.reason = f"{self.reason}{inner} of {where}"
        self.offset = offset
        self.args = (self._text(),)
        return self


class TruncatedError(FormatError):
    """The data ends before a structure it declares is complete."""


class ChecksumError(FormatError):
    """A chunk's checksum does not match its contents."""


class LimitError(FormatError):
    """The data exceeds a size or count limit given in ``Limits``."""
