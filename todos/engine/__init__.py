"""The engine: real Automerge (PyPI ``automerge``, ``automerge.core``) for the server.

Every use of Automerge by the server goes through here: checking and applying
uploads, compacting stored documents, and decoding them for display. The work runs
in engine processes (``pool.Pool``) that keep a warm copy of recently used
documents; the database stays the truth, so a copy is used only when its heads
are the stored heads.

Public API:

- ``apply(doc_id, heads, upload, read_stored, want_save, uploaded)``
  -> Applied
- ``save(doc_id, heads, read_stored)`` -> bytes
- ``decode(doc_id, heads, read_stored, max_chars, with_changes)`` -> Decoded
- ``decode_bytes(data, max_chars=None)`` -> Decoded, cached nowhere
- ``sync_receive(doc_id, heads, read_stored, peer, message)`` -> reply or None,
  ``sync_generate(doc_id, heads, read_stored, peer)`` -> message or None, and
  ``sync_forget(doc_id, peer)``: Automerge's sync protocol with one peer (a
  socket), its sync state kept in the engine process (see ``sync``)
- ``Applied``; errors ``Refused`` (``Unloadable``, ``DuplicateSeq``,
  ``MissingChanges``) and ``EngineUnavailable`` (``EngineTimeout``)
- ``configure(workers, timeout, cache_docs, cache_bytes)`` and ``shutdown()``

``read_stored()`` returns the stored bytes; it is called only when the engine
process lacks a warm copy at ``heads``.
"""

import threading
from dataclasses import dataclass
from typing import NamedTuple

from .pool import EngineTimeout, EngineUnavailable, Pool
from .worker import NEED_STORED

__all__ = [
    "Applied",
    "Change",
    "Decoded",
    "Refused",
    "Unloadable",
    "DuplicateSeq",
    "MissingChanges",
    "EngineUnavailable",
    "EngineTimeout",
    "apply",
    "save",
    "decode",
    "decode_bytes",
    "sync_receive",
    "sync_generate",
    "sync_forget",
    "configure",
    "shutdown",
]


class Refused(Exception):
    """The engine would not take an upload; ``detail`` is the engine's reason."""

    def __init__(self, detail):
        super().__init__(detail)
        self.detail = detail


class Unloadable(Refused):
    """With the upload, Automerge could not load (or save and reload) the document."""


class DuplicateSeq(Refused):
    """A change reuses an actor's sequence number with other content."""


class MissingChanges(Refused):
    """Changes depend on changes the document lacks; ``detail`` lists their hashes."""


@dataclass(frozen=True)
class Change:
    """One change as the engine reports it: hash, actor, seq, deps (hex), bytes,
    and its time (seconds since the epoch by its author's clock, 0 if unknown)."""

    hash: str
    actor: str
    seq: int
    deps: list
    data: bytes
    time: int = 0


class Decoded(NamedTuple):
    """A decoded document: its value, its changes (if asked for) and its heads."""

    value: object
    changes: list
    heads: list


@dataclass(frozen=True)
class Applied:
    """What an upload added: the new heads and changes, and a save if one was made."""

    heads: list
    changes: list
    saved: bytes | None = None


_pool = None
_pool_lock = threading.Lock()
_settings = {"workers": 2, "timeout": 30.0, "cache_docs": 32, "cache_bytes": 32 << 20}


def configure(workers=None, timeout=None, cache_docs=None, cache_bytes=None):
    """Set the engine processes' count, time limit per call and warm documents."""
    for name, value in (
        ("workers", workers),
        ("timeout", timeout),
        ("cache_docs", cache_docs),
        ("cache_bytes", cache_bytes),
    ):
        if value is not None:
            _settings[name] = value
    shutdown()


def engines():
    """The engine processes, started on first use."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = Pool(**_settings)
        return _pool


def shutdown():
    """Stop the engine processes (they start again on the next call)."""
    global _pool
    with _pool_lock:
        old, _pool = _pool, None
    if old is not None:
        old.shutdown()


def _call(doc_id, function, heads, read_stored, *args, timeout=None):
    result = engines().call(doc_id, function, heads, None, *args, timeout=timeout)
    if isinstance(result, str) and result == NEED_STORED:
        stored = read_stored()
        result = engines().call(doc_id, function, heads, stored, *args, timeout=timeout)
    return result


def apply(
    doc_id,
    heads,
    upload,
    read_stored,
    want_save=False,
    uploaded=(),
):
    """Apply ``upload`` to document ``doc_id`` at ``heads``; return Applied.

    The result is checked to survive save() and load() (see worker.apply);
    ``want_save`` asks for the result's save() when it adds
    changes; ``uploaded`` lists hashes of changes the upload holds (its change
    chunks, the heads of its document chunks), each of which must be in the
    result.

    Raises ``Unloadable``, ``DuplicateSeq`` or ``MissingChanges`` when the engine
    refuses it, and ``EngineUnavailable`` when the engine could not finish.
    """
    result = _call(
        doc_id,
        "apply",
        heads,
        read_stored,
        upload,
        want_save,
        tuple(uploaded),
    )
    outcome = result[0]
    if outcome == "conflict":
        raise DuplicateSeq(result[1])
    if outcome == "unloadable":
        raise Unloadable(result[1])
    if outcome == "missing":
        raise MissingChanges(result[1])
    _, new_heads, changes, saved = result
    return Applied(new_heads, [Change(*change) for change in changes], saved)


def save(doc_id, heads, read_stored):
    """The engine's ``save()`` of document ``doc_id`` at ``heads``.

    Raises Unloadable if the stored bytes do not load.
    """
    return _unwrap(_call(doc_id, "save", heads, read_stored))[0]


def decode(doc_id, heads, read_stored, max_chars=None, with_changes=True):
    """Document ``doc_id`` at ``heads``, decoded (see worker.decode): Decoded.

    Raises Unloadable if the stored bytes do not load.
    """
    result = _call(doc_id, "decode", heads, read_stored, max_chars, with_changes)
    return Decoded(*_unwrap(result))


def decode_bytes(data, max_chars=None):
    """Automerge bytes ``data`` decoded, kept nowhere: Decoded."""
    result = engines().call("", "decode", [], data, max_chars, routing=None)
    return Decoded(*_unwrap(result))


def sync_receive(doc_id, heads, read_stored, peer, message):
    """Take sync ``message`` from ``peer`` into its sync state; return the reply.

    The document at ``heads`` must already hold whatever changes the message
    carries that are to be kept: store them first (``storage.write_document``),
    since this applies nothing. The reply (sync message bytes, or None when
    there is nothing to say) is generated from the document at ``heads``.
    ``peer`` is any string that names one connection; its state lives until
    ``sync_forget``, or until the engine drops it (bounded in count) or its
    process restarts, after which a fresh state takes over and the protocol
    resyncs. Raises Refused if the engine cannot read the message.
    """
    result = _call(doc_id, "sync.receive", heads, read_stored, peer, message)
    if result[0] != "synced":
        raise Refused(result[1])
    return result[1]


def sync_generate(doc_id, heads, read_stored, peer):
    """The sync message ``peer`` should be sent for the document at ``heads``, or None.

    Raises Unloadable if the stored bytes do not load.
    """
    return _unwrap(_call(doc_id, "sync.generate", heads, read_stored, peer))[0]


def sync_forget(doc_id, peer):
    """Drop ``peer``'s sync state for ``doc_id`` (its connection closed)."""
    engines().call(doc_id, "sync.forget", peer)


def _unwrap(result):
    if result[0] in ("unloadable", "conflict"):
        raise Unloadable(result[1])
    return result[1:]
