"""What runs inside an engine process: real Automerge on warm documents.

This module imports no Django and, of the project, only the LEB128 helpers of
``automerge_format`` (stdlib only), so a worker process starts fast and holds
nothing but the engine and its cache. Every public
function takes the document's id, the heads the database says are stored
(sorted hex hashes), and the stored bytes when the caller has read them (else
None). A warm document is used only when its heads are those heads; otherwise,
without stored bytes, the answer is ``NEED_STORED`` and the caller sends them.
An upload is applied to a fork, so a failure never damages the warm document.

Public API: ``start``, ``apply``, ``save``, ``decode``, ``NEED_STORED``.
Each returns plain data (tuples, lists, bytes, str) that pickles cheaply.
"""

import functools
import os
import threading
import time
from collections import OrderedDict

from automerge.core import ROOT, Document, Message, ObjType, SyncState

from ..automerge_format import read_uleb, write_uleb

__all__ = ["start", "apply", "save", "decode", "NEED_STORED"]

NEED_STORED = "need-stored"

# Messages of automerge 0.7.2 (the Rust crate under PyPI automerge 0.2.0.dev4).
DUPLICATE_SEQ = "duplicate seq"

SYNC_MESSAGE_TYPE = 0x42  # the first byte of a sync message (Automerge's sync spec)

_cache = OrderedDict()  # doc_id -> (Document, bytes it was made from), LRU last
_limits = {"docs": 32, "bytes": 32 * 1024 * 1024}
# hash -> (actor, seq, deps) of changes this process applied or listed lately, LRU
# last: facts about a change, true in any document that holds it. They let the
# check below walk a new change's recent history without asking the engine.
_known = OrderedDict()
_KNOWN_CHANGES = 20_000


def start(cache_docs=32, cache_bytes=32 * 1024 * 1024, silence_stderr=True):
    """Set up a worker process: the cache's limits, and no Rust panic text on fd 2.

    The cache keeps at most ``cache_docs`` documents, and evicts the least
    recently used while the Automerge bytes they were made from pass
    ``cache_bytes`` (a loaded document takes about 60 times its save in memory
    for long texts). The engine reports a panic both as an exception (whose
    message we keep) and as a backtrace written straight to file descriptor 2;
    the server's log is no place for the latter.
    """
    _limits.update(docs=cache_docs, bytes=cache_bytes)
    _exit_with_parent(os.getppid())
    if silence_stderr:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)


def _exit_with_parent(parent, every=1.0):
    """End this process soon after ``parent`` ends, however it ended.

    A server process killed with SIGKILL cannot stop its engine processes; they
    would live on, holding their documents' memory.
    """

    def watch():
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def heads_of(doc):
    """The document's heads as sorted hex strings."""
    return sorted(head.hex() for head in doc.get_heads())


def _warm(doc_id, heads, stored):
    """The document at ``heads``: the cached one, or loaded from ``stored``.

    Returns None when the cache does not hold those heads and ``stored`` was not
    given. Raises what ``Document.load`` raises for stored bytes it refuses.
    """
    doc, _ = _cache.get(doc_id, (None, 0))
    if doc is not None and heads_of(doc) == heads:
        _cache.move_to_end(doc_id)
        return doc
    if stored is None:
        return None
    doc = Document.load(stored) if stored else Document()
    _remember(doc_id, doc, len(stored))
    return doc


def _size(doc_id):
    return _cache.get(doc_id, (None, 0))[1]


def _remember(doc_id, doc, size):
    _cache[doc_id] = (doc, size)
    _cache.move_to_end(doc_id)
    while len(_cache) > 1 and (
        len(_cache) > _limits["docs"]
        or sum(size for _, size in _cache.values()) > _limits["bytes"]
    ):
        _cache.popitem(last=False)


def _sync_message(upload, uploaded=()):
    """A sync message that carries ``upload`` (any Automerge chunks) as its changes.

    Receiving it is the engine's incremental load: chunks already held are
    skipped, a document chunk with unknown changes is loaded (and its hashes
    checked), a change whose dependencies are absent is held back, not applied,
    and a chunk the engine cannot read is dropped without a word. The message
    names the ``uploaded`` hashes as the sender's heads, so the reply's ``need``
    lists whichever of them did not arrive, with the missing dependencies.
    """
    return (
        bytes([SYNC_MESSAGE_TYPE])
        + write_uleb(len(uploaded))
        + b"".join(uploaded)
        + write_uleb(0)  # need
        + write_uleb(0)  # have
        + write_uleb(1)
        + (write_uleb(len(upload)) + upload)
    )


def _needs(message):
    """The hashes a generated sync message asks for (its ``need`` field)."""
    if message is None:
        return []
    data = message.encode()
    count, pos = read_uleb(data, 1)
    pos += 32 * count  # heads
    count, pos = read_uleb(data, pos)
    return [data[pos + 32 * i : pos + 32 * (i + 1)].hex() for i in range(count)]


def _engine_error(exc):
    """("conflict" | "unloadable", message) for an exception the engine raised."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
    if DUPLICATE_SEQ in message:
        return ("conflict", message)
    return ("unloadable", message)


def _guarded(function):
    """Turn whatever the engine raises (a panic is a BaseException that does not
    pickle) into ``("unloadable", message)``, forgetting the document's warm copy,
    which a panic may have left inconsistent."""

    @functools.wraps(function)
    def guarded(doc_id, *args, **kwargs):
        try:
            return function(doc_id, *args, **kwargs)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001
            _cache.pop(doc_id, None)
            return _engine_error(exc)

    return guarded


@_guarded
def apply(doc_id, heads, stored, upload, want_save=False, uploaded=()):
    """Apply ``upload`` to the document at ``heads``; say what it added.

    Returns one of:

    - ``NEED_STORED``: call again with the stored bytes;
    - ``("conflict", message)``: a change reuses an actor's sequence number;
    - ``("unloadable", message)``: the engine refused the upload, or the result
      would not survive ``save()`` then ``load()`` with the same heads;
    - ``("missing", [hash, ...])``: changes depend on hashes the document lacks;
    - ``("applied", new_heads, changes, saved)`` where ``changes`` lists the new
      changes as ``(hash, actor, seq, deps, bytes, time)`` in dependency order (empty
      when the upload added nothing) and ``saved`` is the result's ``save()``
      when ``want_save`` asked for it or the check below made one, else None.

    Before it answers "applied", the new changes are checked to survive
    ``save()`` then ``load()`` (``_unfaithful``): both the Rust and the JS
    engine apply a change whose ops name predecessors the document lacks, then
    cannot load their own save.

    ``uploaded`` lists hashes (bytes) of changes the upload holds: those of its
    change chunks and the heads of its document chunks. Each must be in the
    result: receiving a sync message drops a chunk that Automerge cannot read
    without a word, so a change neither new nor already held makes the upload
    unloadable.
    """
    try:
        doc = _warm(doc_id, heads, stored)
    except BaseException as exc:  # noqa: BLE001 - the engine panics with BaseException
        return ("unloadable", "the stored document: " + _engine_error(exc)[1])
    if doc is None:
        return NEED_STORED
    fork = doc.fork()
    state = SyncState()
    try:
        message = Message.decode(_sync_message(upload, uploaded))
        fork.receive_sync_message(state, message)
        missing = _needs(fork.generate_sync_message(state))
    except BaseException as exc:  # noqa: BLE001
        return _engine_error(exc)
    unread = sorted(set(missing) & {hash_.hex() for hash_ in uploaded})
    if unread:
        return ("unloadable", f"change {unread[0]} cannot be read")
    if missing:
        return ("missing", missing)
    new = fork.get_changes(doc.get_heads())
    if not new:
        return ("applied", heads, [], None)
    saved = None
    unfaithful = _unfaithful(doc, fork, new)
    if unfaithful is _UNCERTAIN:
        try:
            saved = fork.save()
            reloaded = Document.load(saved)
        except BaseException as exc:  # noqa: BLE001
            return ("unloadable", _engine_error(exc)[1])
        if heads_of(reloaded) != heads_of(fork):
            return ("unloadable", "the result does not load with the same heads")
    elif unfaithful:
        return (
            "unloadable",
            f"change {unfaithful}, so the list would not load",
        )
    if want_save and saved is None:
        saved = fork.save()
    _remember(doc_id, fork, len(saved) if saved else _size(doc_id) + len(upload))
    _learn(new)
    changes = [
        (
            change.hash.hex(),
            change.actor_id.hex(),
            change.seq,
            [dep.hex() for dep in change.deps],
            change.raw_bytes,
            change_time(change),
        )
        for change in new
    ]
    return ("applied", heads_of(fork), changes, saved)


# The cheap check below gives up, and the write takes the full save-and-load
# round trip instead, past this many steps per new change (a history no
# client writes: each actor's changes far apart in a long run of new changes).
_STEPS_PER_CHANGE = 64
# Stored changes it walks through per new change before asking the engine for
# the history beyond them (``get_changes``, which costs a walk of the document).
_STORED_STEPS = 256
_UNCERTAIN = object()


def _unfaithful(doc, fork, new):
    """Why a new change would not survive ``save()`` then ``load()``, or None.

    The exact check is that round trip, which costs a load of the whole
    document (about 100 ms at 5,000 items). This one looks at the new changes
    only, for the two ways a change that the engine accepts can break it:

    - ``get_changes`` does not hand back a change's bytes as they arrived: it
      rebuilds the change from the document's ops, as ``load()`` does, naming
      dependencies by the hashes the document holds. A change rebuilds to
      itself exactly when its ops' predecessors were found and its bytes are
      Automerge's own encoding of them; otherwise its rebuilt hash is one the
      document does not hold (neither a head nor a dependency of another new
      change).
    - ``load()`` gives each actor's ops to its changes in the order the save
      lists them, so an actor's change must have the actor's previous change
      in its history, as every change Automerge makes does.

    Returns a description of the first bad change, None when all are sound, or
    ``_UNCERTAIN`` when checking the histories would cost more than the
    round trip.
    """
    held = set(fork.get_heads())
    for change in new:
        held.update(change.deps)
    for change in new:
        if change.hash not in held:
            return (
                f"{_name(change)}: its ops name a predecessor the list lacks, "
                "or it is not encoded as Automerge encodes it"
            )
    return _skips_a_change(doc, new)


def _skips_a_change(doc, new):
    """The first new change whose actor's previous change is not in its history."""
    by_hash = {change.hash: change for change in new}
    by_seq = {(change.actor_id, change.seq): change for change in new}
    budget = _STEPS_PER_CHANGE * len(new)
    stored_histories = {}  # frontier in the stored document -> what lies outside it
    for change in new:
        if change.seq == 1:
            continue
        previous = by_seq.get((change.actor_id, change.seq - 1))
        if previous is not None and previous.hash in change.deps:
            continue  # how nearly every change names its predecessor
        # Walk back through the new changes, and through stored ones this
        # process knows (``_known``), as far as the budget allows. A new
        # previous change is reached through new changes or not at all (a
        # stored change depends on no new one); a stored one is met on the way
        # or must lie in the history of the stored changes left unexplored.
        target = (change.actor_id, change.seq - 1)
        found, frontier, stack, seen = False, set(), list(change.deps), set()
        stored_steps = _STORED_STEPS
        while stack and not found:
            hash_ = stack.pop()
            if hash_ in seen:
                continue
            seen.add(hash_)
            if hash_ in by_hash:
                budget -= 1
                if budget < 0:
                    return _UNCERTAIN
                found = previous is not None and hash_ == previous.hash
                if not found:
                    stack.extend(by_hash[hash_].deps)
            elif (fact := _known.get(hash_)) is not None and stored_steps > 0:
                stored_steps -= 1
                found = fact[:2] == target
                if not found:
                    stack.extend(fact[2])
            else:
                frontier.add(hash_)
        if found:
            continue
        if previous is not None:
            return _skipping(change)
        if not frontier:
            return _skipping(change)  # its whole history walked, without it
        key = frozenset(frontier)
        if key not in stored_histories:
            if len(stored_histories) == 8:
                return _UNCERTAIN
            outside = doc.get_changes(sorted(frontier))
            stored_histories[key] = {(c.actor_id, c.seq) for c in outside}
        if target in stored_histories[key]:
            return _skipping(change)
    return None


def _learn(changes):
    """Remember each change's actor, seq and deps by its hash (see ``_known``)."""
    for change in changes:
        _known[change.hash] = (change.actor_id, change.seq, tuple(change.deps))
        _known.move_to_end(change.hash)
    while len(_known) > _KNOWN_CHANGES:
        _known.popitem(last=False)


def _skipping(change):
    return f"{_name(change)}: its actor's change {change.seq - 1} is not in its history"


def _name(change):
    return f"{change.seq} of actor {change.actor_id.hex()}"


@_guarded
def save(doc_id, heads, stored):
    """``("saved", bytes)``: the document at ``heads`` saved (compacted).

    Or NEED_STORED, or ``("unloadable", message)`` if the stored bytes do not load.
    """
    try:
        doc = _warm(doc_id, heads, stored)
        if doc is None:
            return NEED_STORED
        return ("saved", doc.save())
    except BaseException as exc:  # noqa: BLE001
        return ("unloadable", _engine_error(exc)[1])


@_guarded
def decode(doc_id, heads, stored, max_chars=None, with_changes=True):
    """``("decoded", value, changes, heads)``: the document as plain Python data.

    ``value`` is the root map as dicts, lists, strings and scalars (texts as
    ``str``); ``changes`` lists each change as ``(hash, actor, seq, time,
    message, deps)`` in dependency order (empty unless ``with_changes``: for a
    document loaded from a save, the engine rebuilds every change to list them,
    which costs seconds for a list of long texts); ``heads`` are the decoded
    document's. ``max_chars`` bounds each text's length. With ``doc_id`` None,
    ``stored`` is decoded and not kept. Returns NEED_STORED, or
    ``("unloadable", message)`` if the bytes do not load.
    """
    try:
        if doc_id is None:
            doc = Document.load(stored) if stored else Document()
        else:
            doc = _warm(doc_id, heads, stored)
        if doc is None:
            return NEED_STORED
        changes = [
            (
                c.hash.hex(),
                c.actor_id.hex(),
                c.seq,
                change_time(c),
                c.message,
                [d.hex() for d in c.deps],
            )
            for c in (doc.get_changes([]) if with_changes else ())
        ]
        return ("decoded", _extract(doc, ROOT, max_chars), changes, heads_of(doc))
    except BaseException as exc:  # noqa: BLE001
        return ("unloadable", _engine_error(exc)[1])


def change_time(change):
    """A change's time field: seconds since the epoch, by its author's clock.

    The binding reads the field (seconds, as the JS library writes it) as
    milliseconds; this undoes that.
    """
    return round(change.timestamp.timestamp() * 1000)


def _extract(doc, obj, max_chars):
    kind = doc.object_type(obj)
    if kind == ObjType.Text:
        return doc.text(obj)[:max_chars] if max_chars else doc.text(obj)
    if kind == ObjType.Map:
        return {key: _value(doc, doc.get(obj, key), max_chars) for key in doc.keys(obj)}
    return [_value(doc, doc.get(obj, i), max_chars) for i in range(doc.length(obj))]


def _value(doc, got, max_chars):
    value, obj_id = got
    if isinstance(value, ObjType):
        return _extract(doc, obj_id, max_chars)
    scalar_type, scalar = value
    return scalar
