"""Vector clocks and change histories: which changes a set holds, what each builds on.

A clock maps each actor (hex) to its highest seq; a dependency-closed set of
changes holds each actor's changes 1 to that seq, so clocks decide containment.
A change's history clock is the clock of everything it depends on. The checks
here refuse changes that break Automerge's numbering: each actor's changes are
numbered 1, 2, 3, ... and each builds on that actor's previous one.
"""

from .errors import BadUpload, MissingDependencies


def _check_next(actor, seq, stored_seq):
    """Refuse a change that is not its actor's next one after ``stored_seq``."""
    if seq > stored_seq + 1:
        raise MissingDependencies(
            f"The upload holds change {seq} of actor {actor}, but the server has "
            f"only {stored_seq} of that actor's changes. Send the full document "
            "instead: Automerge.save(doc)."
        )
    if seq <= stored_seq:
        raise BadUpload(
            f"The upload holds two different changes numbered {seq} by actor "
            f"{actor}; Automerge never makes those. Send Automerge.save(doc)."
        )


def _history_before(change, histories, unknown=None):
    """The history clock of a change's dependencies.

    A dependency with no known history counts as ``unknown``; if that is None too,
    the answer is None.
    """
    history = {}
    for dep in change.deps:
        dep_history = histories.get(dep.hex()) or unknown
        if dep_history is None:
            return None
        for actor, seq in dep_history.items():
            _advance(history, actor, seq)
    return history


MAX_HISTORY_ENTRIES = 2_000_000


def _head_histories(chunk):
    """{head hash (hex): history clock} for a document chunk's heads.

    Changes in a document chunk come in dependency order, each naming its
    dependencies by index, so one pass computes every change's history. Skipped
    (an empty answer: the heads stay unknown) when that would take too much memory.
    """
    if len(chunk.changes) * max(len(chunk.actors), 1) > MAX_HISTORY_ENTRIES:
        return {}
    histories = []
    for index, meta in enumerate(chunk.changes):
        history = {}
        for dep in meta.deps:
            if dep >= index:
                return {}
            for actor, seq in histories[dep].items():
                _advance(history, actor, seq)
        _advance(history, meta.actor.hex(), meta.seq)
        histories.append(history)
    indices = chunk.head_indices or ()
    return {
        head.hex(): histories[index]
        for head, index in zip(chunk.heads, indices, strict=False)
        if index < len(histories)
    }


def _check_numbering(chunk):
    """Refuse a document chunk whose actors' changes are not numbered 1, 2, 3, ..."""
    counts = {}
    for meta in chunk.changes:
        counts[meta.actor] = counts.get(meta.actor, 0) + 1
    for actor, seq in chunk.clock.items():
        if counts.get(actor) != seq:
            raise BadUpload(
                f"The document's changes by actor {actor.hex()} are not numbered "
                f"1 to {counts.get(actor)}, so Automerge could not load it. Send "
                "the unmodified output of Automerge.save(doc)."
            )


def _change_total(clock):
    """The number of changes in a dependency-closed set: each actor's 1..seq."""
    return sum(clock.values())


def _hex_clock(clock):
    return {actor.hex(): seq for actor, seq in clock.items()}


def _advance(clock, actor, seq):
    if clock.get(actor, 0) < seq:
        clock[actor] = seq


def _contains(clock, other):
    """True if the changes described by ``clock`` include all of ``other``'s."""
    return all(clock.get(actor, 0) >= seq for actor, seq in other.items())


def _holds(kind, clock, other):
    """True if one chunk (of ``kind``, with ``clock``) holds all of ``other``'s changes.

    A document chunk is closed under dependencies, so its clock describes it
    exactly; a change chunk holds just one change, so it holds only an empty set.
    """
    return _contains(clock, other) if kind == "document" else not other
