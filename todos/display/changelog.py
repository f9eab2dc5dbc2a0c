"""A document's history as people read it: each stored chunk and its changes.

``history`` lists who made each change, when, with what message and on which
changes it builds, chunk by chunk, keeping the latest ``HISTORY_LIMIT`` changes.
(The module is not named ``history``: ``todos.display.history`` is the function.)
"""

import datetime
from dataclasses import dataclass

from .. import storage
from ..automerge_format import FormatError, parse_chunks
from .snapshot import change_time

HISTORY_LIMIT = 1000


@dataclass(frozen=True)
class ChangeRow:
    """One change in the history: who, when, what it depends on."""

    actor: str
    seq: int
    time: datetime.datetime | None
    message: str | None
    deps: list
    hash: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class ChunkHistory:
    """One stored chunk and the changes it holds (or why it cannot be read)."""

    position: int
    kind: str
    size: int
    changes: list
    error: str | None = None


@dataclass(frozen=True)
class History:
    """The history of a document, chunk by chunk; ``omitted`` older rows cut."""

    chunks: list
    total: int
    omitted: int


def history(chunks, limit=HISTORY_LIMIT):
    """Return the History of stored chunks, given as (position, data) pairs.

    Change chunks give each change's actor, seq, time, message, deps, hash and
    size; document chunks give actor, seq, time, message and deps per change, and
    their size per chunk. Dependencies are shown as ``actor:seq`` where the
    change is known, else as a short hash. Only the latest ``limit`` changes are
    listed.
    """
    parsed = []
    for position, data in chunks:
        data = bytes(data)
        try:
            parsed.append((position, data, parse_chunks(data, storage.upload_limits())))
        except FormatError as exc:
            parsed.append((position, data, exc))
    labels = _change_labels(
        p for _, _, found in parsed if isinstance(found, list) for p in found
    )
    result = []
    for position, data, found in parsed:
        if isinstance(found, FormatError):
            result.append(
                ChunkHistory(position, "unreadable", len(data), [], str(found))
            )
            continue
        for chunk in found:
            kind = chunk.kind
            rows = _change_rows(chunk, labels)
            result.append(ChunkHistory(position, kind, len(chunk.raw), rows))
    total = sum(len(c.changes) for c in result)
    return History(_keep_latest(result, limit), total, max(0, total - limit))


def _keep_latest(chunks, limit):
    kept, budget = [], limit
    for chunk in reversed(chunks):
        rows = chunk.changes[-budget:] if budget else []
        budget -= len(rows)
        kept.append(
            ChunkHistory(chunk.position, chunk.kind, chunk.size, rows, chunk.error)
        )
    return kept[::-1]


def _short(actor):
    return actor.hex()[:8]


def _change_labels(chunks):
    """Map change hashes to ``actor:seq`` for the changes whose hash is known."""
    labels = {}
    for chunk in chunks:
        if chunk.kind == "change":
            labels[chunk.hash] = f"{_short(chunk.actor)}:{chunk.seq}"
        else:
            for head, index in zip(chunk.heads, chunk.head_indices or (), strict=False):
                if index < len(chunk.changes):
                    meta = chunk.changes[index]
                    labels[head] = f"{_short(meta.actor)}:{meta.seq}"
    return labels


def _change_rows(chunk, labels):
    if chunk.kind == "change":
        return [
            ChangeRow(
                actor=chunk.actor.hex(),
                seq=chunk.seq,
                time=change_time(chunk.time),
                message=chunk.message,
                deps=[labels.get(d, d.hex()[:12]) for d in chunk.deps],
                hash=chunk.hash.hex(),
                size=len(chunk.raw),
            )
        ]
    metas = chunk.changes
    return [
        ChangeRow(
            actor=meta.actor.hex(),
            seq=meta.seq,
            time=change_time(meta.time),
            message=meta.message,
            deps=[
                f"{_short(metas[i].actor)}:{metas[i].seq}"
                if i < len(metas)
                else f"#{i}"
                for i in meta.deps
            ],
        )
        for meta in metas
    ]
