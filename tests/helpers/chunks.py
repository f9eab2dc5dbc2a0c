"""Building and rewriting Automerge chunks for tests, checksums repaired.

The format pre-check (``todos.automerge_format``) reads chunk and change headers
and counts ops; these helpers use its header readers to take real chunks apart
and put them back together with one field or one op column changed, so the
result passes the pre-check and reaches the engine. The op column
specifications below are from the spec ("change chunks", op columns).
"""

import hashlib
import zlib

from todos.automerge_format import (
    MAGIC_BYTES,
    read_sleb,
    read_uleb,
    write_sleb,
    write_uleb,
)
from todos.automerge_format.columns import ACTION, read_column_metadata
from todos.automerge_format.fields import read_actors, read_hashes, read_prefixed_bytes

__all__ = [
    "OBJ_ACTOR",
    "OBJ_CTR",
    "KEY_ACTOR",
    "KEY_CTR",
    "ACTION",
    "PRED_CTR",
    "chunk",
    "split",
    "compressed",
    "with_deps",
    "with_column",
    "with_seq",
    "minimal_change",
]

OBJ_ACTOR, OBJ_CTR = 0x01, 0x02
KEY_ACTOR, KEY_CTR = 0x11, 0x13
PRED_CTR = 0x73


def chunk(chunk_type, body, checksum=None):
    """A chunk of ``chunk_type`` around ``body``, with its correct checksum."""
    header = bytes([chunk_type]) + write_uleb(len(body))
    if checksum is None:
        checksum = hashlib.sha256(header + body).digest()[:4]
    return MAGIC_BYTES + checksum + header + body


def split(raw):
    """``(type, body)`` of one valid, uncompressed chunk."""
    length, start = read_uleb(raw, 9)
    return raw[8], raw[start : start + length]


def compressed(raw):
    """A change chunk as a DEFLATE-compressed (type 2) chunk, as Automerge allows."""
    chunk_type, body = split(raw)
    assert chunk_type == 1
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = deflate.compress(body) + deflate.flush()
    return MAGIC_BYTES + raw[4:8] + bytes([2]) + write_uleb(len(data)) + data


def with_deps(raw, deps):
    """Change chunk ``raw`` rebuilt with dependency hashes ``deps`` (checksummed)."""
    chunk_type, body = split(raw)
    count, pos = read_uleb(body, 0)
    rest = body[pos + 32 * count :]
    deps = sorted(deps)
    return chunk(chunk_type, write_uleb(len(deps)) + b"".join(deps) + rest)


def with_column(raw, spec, data):
    """Change chunk ``raw`` with op column ``spec``'s data replaced (checksummed)."""
    chunk_type, body = split(raw)
    _, pos = read_hashes(body, 0, "dependency")
    _, pos = read_prefixed_bytes(body, pos, "actor")
    _, pos = read_uleb(body, pos)  # seq
    _, pos = read_uleb(body, pos)  # startOp
    _, pos = read_sleb(body, pos)  # time
    _, pos = read_prefixed_bytes(body, pos, "message")
    _, pos = read_actors(body, pos, "other actors")
    metadata, at = read_column_metadata(body, pos)
    columns = []
    for column_spec, length in metadata:
        columns.append(
            (column_spec, data if column_spec == spec else body[at : at + length])
        )
        at += length
    block = write_uleb(len(columns)) + b"".join(
        write_uleb(s) + write_uleb(len(d)) for s, d in columns
    )
    return chunk(
        chunk_type, body[:pos] + block + b"".join(d for _, d in columns) + body[at:]
    )


def with_seq(raw, seq):
    """Change chunk ``raw`` with its sequence number replaced (checksummed)."""
    chunk_type, body = split(raw)
    _, pos = read_hashes(body, 0, "dependency")
    _, pos = read_prefixed_bytes(body, pos, "actor")
    _, end = read_uleb(body, pos)
    return chunk(chunk_type, body[:pos] + write_uleb(seq) + body[end:])


def minimal_change(columns):
    """A change chunk of actor aa..., seq 1, with just ``columns`` {spec: data}."""
    body = write_uleb(0) + write_uleb(16) + b"\xaa" * 16
    body += (
        write_uleb(1) + write_uleb(1) + write_sleb(0) + write_uleb(0) + write_uleb(0)
    )
    specs = sorted(columns)
    body += write_uleb(len(specs))
    body += b"".join(write_uleb(s) + write_uleb(len(columns[s])) for s in specs)
    return chunk(1, body + b"".join(columns[s] for s in specs))
