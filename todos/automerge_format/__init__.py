"""The bounded pre-check of Automerge bytes, in pure Python (stdlib only).

It splits Automerge bytes (any concatenation of chunks, as written by
``Automerge.save()``, ``saveIncremental()``, ``saveSince()`` or
``getChanges()``) into chunks, verifies each chunk's checksum, reads change and
document headers, inflates what is DEFLATE-compressed within a limit, and counts
the changes and ops each chunk declares, so that storage can refuse what is too
big before the engine (real Automerge, ``todos.engine``) sees the bytes. It
checks nothing that the engine checks: the columns, their values and what the
ops mean are Automerge's to read.

Public API:

- ``parse_chunks(data, limits=DEFAULT_LIMITS) -> list[ChangeChunk | DocumentChunk]``
- ``ChangeChunk``: raw, hash, actor, seq, start_op, time, message, deps,
  other_actors, op_count; ``kind == "change"``.
- ``DocumentChunk``: raw, actors, heads, change_count, op_count;
  ``kind == "document"``.
- ``Limits`` and ``DEFAULT_LIMITS``: size and count limits for untrusted input.
- ``FormatError`` and its subclasses ``TruncatedError``, ``ChecksumError`` and
  ``LimitError``.
- ``MAGIC_BYTES``; ``read_uleb``, ``read_sleb``, ``write_uleb``, ``write_sleb``:
  LEB128.

Specification: the Automerge binary format spec (automerge.org); reference
implementation: ``rust/automerge/src/storage/`` in automerge/automerge.
"""

from .change import ChangeChunk
from .chunks import MAGIC_BYTES, parse_chunks
from .document import DocumentChunk
from .errors import ChecksumError, FormatError, LimitError, TruncatedError
from .leb128 import read_sleb, read_uleb, write_sleb, write_uleb
from .limits import DEFAULT_LIMITS, Limits

__all__ = [
    "parse_chunks",
    "ChangeChunk",
    "DocumentChunk",
    "FormatError",
    "TruncatedError",
    "ChecksumError",
    "LimitError",
    "Limits",
    "DEFAULT_LIMITS",
    "MAGIC_BYTES",
    "read_uleb",
    "read_sleb",
    "write_uleb",
    "write_sleb",
]
