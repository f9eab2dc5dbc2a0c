"""What runs inside an engine process for the sync protocol: per-peer sync states.

Automerge's sync state cannot be saved whole (``encode`` keeps only the shared
heads), so it lives beside the warm document, in the engine process that owns
the document (the pool routes by document id), keyed by ``(doc_id, peer)``
where ``peer`` names one socket. At most ``MAX_STATES`` are kept, least recently
used dropped first; a state that is dropped, or lost with its process, is
replaced by a fresh one, from which the protocol recovers (the peer is sent
our heads and a summary of everything, and answers with what we lack).

A peer's changes are not applied here: the caller stores them through the
storage service first (validation, lock, push), then calls ``receive`` with the
stored heads, which only updates the sync state (on a fork, so the warm
document is never touched) and generates the reply.

Public API (each called through ``pool.Pool.call``): ``receive``,
``generate``, ``forget``. They return plain data that pickles cheaply.
"""

from collections import OrderedDict

from automerge.core import Message, SyncState

from .worker import NEED_STORED, _engine_error, _guarded, _warm

__all__ = ["receive", "generate", "forget", "MAX_STATES"]

MAX_STATES = 2_000
_states = OrderedDict()  # (doc_id, peer) -> SyncState, least recently used first


def _state(doc_id, peer):
    key = (doc_id, peer)
    state = _states.get(key)
    if state is None:
        state = _states[key] = SyncState()
        while len(_states) > MAX_STATES:
            _states.popitem(last=False)
    _states.move_to_end(key)
    return state


@_guarded
def receive(doc_id, heads, stored, peer, message):
    """Take the peer's sync ``message`` into its state; return the reply.

    Returns NEED_STORED, ``("synced", reply bytes or None)``, or
    ``("unreadable", reason)`` when the engine cannot read the message (the
    peer's state is then dropped: it may have been half updated).
    """
    doc = _warm(doc_id, heads, stored)
    if doc is None:
        return NEED_STORED
    state = _state(doc_id, peer)
    try:
        doc.fork().receive_sync_message(state, Message.decode(message))
    except BaseException as exc:  # noqa: BLE001 - the engine panics with BaseException
        _states.pop((doc_id, peer), None)
        return ("unreadable", _engine_error(exc)[1])
    return ("synced", _generate(doc, state))


@_guarded
def generate(doc_id, heads, stored, peer):
    """``("synced", message bytes or None)``: what the peer should be sent now."""
    doc = _warm(doc_id, heads, stored)
    if doc is None:
        return NEED_STORED
    return ("synced", _generate(doc, _state(doc_id, peer)))


def forget(doc_id, peer):
    """Drop the peer's sync state for the document (its socket closed)."""
    _states.pop((doc_id, peer), None)
    return ("forgotten",)


def _generate(doc, state):
    message = doc.generate_sync_message(state)
    return None if message is None else message.encode()
