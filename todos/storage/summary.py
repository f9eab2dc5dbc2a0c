"""What the database rows say about the stored chunks, without reading their bytes.

``_chunk_row`` records a parsed chunk as a Chunk row (clock, heads, deps, digest);
``_heads`` and ``etag_of`` fold those rows into the document row's summary: the
heads of the whole document and a validator for its bytes.
"""

import hashlib

from ..models import Chunk
from .history import _advance, _hex_clock


def _chunk_row(document, chunk, position):
    if chunk.kind == "document":
        clock = _hex_clock(chunk.clock)
        heads = _document_heads(chunk)
        deps = []
        change_count = len(chunk.changes)
    else:
        clock = {chunk.actor.hex(): chunk.seq}
        heads = [[chunk.hash.hex(), chunk.actor.hex(), chunk.seq]]
        deps = [d.hex() for d in chunk.deps]
        change_count = 1
    return Chunk(
        document=document,
        position=position,
        kind=chunk.kind,
        data=chunk.raw,
        size=len(chunk.raw),
        digest=hashlib.sha256(chunk.raw).hexdigest(),
        clock=clock,
        change_count=change_count,
        heads=heads,
        deps=deps,
    )


def _document_heads(chunk):
    """[hash, actor, seq] for each head of a document chunk."""
    heads = []
    indices = chunk.head_indices or ()
    for i, head in enumerate(chunk.heads):
        if i < len(indices) and indices[i] < len(chunk.changes):
            meta = chunk.changes[indices[i]]
            heads.append([head.hex(), meta.actor.hex(), meta.seq])
        else:
            heads.append([head.hex(), None, None])
    return heads


def _heads(rows):
    """Heads of the union of ``rows``: stored heads that nothing stored depends on.

    A chunk head (actor a, seq s) is a head of the whole document unless some
    change chunk lists it as a dependency, a later change of actor a is stored, or a
    document chunk holds it without it being one of that chunk's heads.
    """
    rows = list(rows)
    clock = {}
    for row in rows:
        for actor, seq in row.clock.items():
            _advance(clock, actor, seq)
    depended = {d for row in rows for d in row.deps}
    documents = [
        (row.clock, {head[0] for head in row.heads})
        for row in rows
        if row.kind == Chunk.DOCUMENT
    ]

    def inside_a_document(head_hash, actor, seq):
        return any(
            doc_clock.get(actor, 0) >= seq and head_hash not in doc_heads
            for doc_clock, doc_heads in documents
        )

    heads = set()
    for row in rows:
        for head_hash, actor, seq in row.heads:
            if head_hash in depended:
                continue
            if actor is not None and (
                clock.get(actor, 0) > seq or inside_a_document(head_hash, actor, seq)
            ):
                continue
            heads.add(head_hash)
    return sorted(heads)


def etag_of(chunk_digests, etag=""):
    """A validator for the stored bytes: the chunks' digests folded in order.

    Folding one digest at a time lets a write that appends chunks extend the
    stored ETag (pass it as ``etag``) and still agree with a fold of them all.
    """
    for chunk_digest in chunk_digests:
        etag = hashlib.sha256(f"{etag}:{chunk_digest}".encode()).hexdigest()[:32]
    return etag
