"""What the ops of a chunk create and refer to, and the rules that need no document.

Automerge loads a document by applying its ops; an op that names an object or an
element that does not exist, or whose action and value disagree, makes
``Automerge.load`` fail on the whole document (in 3.x it panics). The column
checks in ``ops`` cannot see that. This module checks what one chunk shows on its
own, and summarises what it needs from the rest of the document, so that the
storage layer can check that against an index of the stored document:

- ``ObjectRange``: objects made by the chunk's make ops (makeMap, makeList,
  makeText, makeTable), as arithmetic progressions of op IDs of one actor and kind.
- ``ObjectUse``: an object the chunk's ops work on that the chunk does not make,
  with what the ops need it to be (a map, or a sequence: list or text).
- ``change_semantics(ops, start_op, actors, fail)`` for change chunks: make and
  delete ops carry a null value; an op on an object made in the same change comes
  after the make op and fits its kind; an element ID or predecessor in the
  change's own ops names an earlier op of the change, and an element ID that
  names an op of the change, or any element of an object the change makes, an
  earlier insert op of the change into the op's own object (Automerge 3.5
  panics otherwise). Returns the objects made, the objects used, and the actors
  whose ops are named (elements, predecessors) or who are listed in the change's
  actor table.
- ``document_semantics(ops, actors, changes, fail)`` for document chunks: make and
  delete ops carry a null value; no op ID appears twice, every op ID lies within
  its actor's changes, and each change's ops (deletes, which a document leaves
  out, are its successors) are consecutive, end at its maxOp and come after the
  ops of its dependencies. Returns the objects, and whether some change holds no
  ops.

Everything walks runs, not rows, so its cost follows the size of the chunk.
Nothing here replays the op set: an element ID naming an op of another change
is checked to name an op of an actor the document knows, not an element of the
right list, for instance.
"""

from bisect import bisect_right
from dataclasses import dataclass
from itertools import pairwise

from .columns import ColumnSet
from .errors import LimitError
from .limits import Budget
from .ops import (
    ACTION,
    ID_ACTOR,
    ID_CTR,
    INSERT,
    KEY_ACTOR,
    KEY_CTR,
    KEY_STR,
    OBJ_ACTOR,
    OBJ_CTR,
    PRED_ACTOR,
    PRED_CTR,
    SUCC_ACTOR,
    SUCC_CTR,
    VAL_LEN,
    _aligned,
    _segments,
)

__all__ = [
    "ObjectRange",
    "ObjectUse",
    "MAKE_KINDS",
    "MAP",
    "SEQUENCE",
    "fits",
    "change_semantics",
    "document_semantics",
]

MAKE_KINDS = {0: "map", 2: "list", 4: "text", 6: "table"}
DELETE = 3
MAP, SEQUENCE = "map", "sequence"  # what an op needs its object to be
_KINDS_FOR = {MAP: ("map", "table"), SEQUENCE: ("list", "text")}
_ACTION_NAMES = {0: "makeMap", 2: "makeList", 3: "delete", 4: "makeText"}
_ACTION_NAMES[6] = "makeTable"


def fits(kind: str, need: str) -> bool:
    """True if an object of ``kind`` can take ops that need a ``need`` object."""
    return kind in _KINDS_FOR[need]


@dataclass(frozen=True, slots=True)
class ObjectRange:
    """Objects of one ``kind`` made by ops ``actor``:``first + i * step``.

    ``i`` runs from 0 to ``count - 1``; ``step`` is 0 when ``count`` is 1.
    """

    actor: bytes
    first: int
    step: int
    count: int
    kind: str

    @property
    def last(self) -> int:
        return self.first + (self.count - 1) * self.step

    def holds(self, counter: int) -> bool:
        """True if this range makes the object ``actor``:``counter``."""
        low, high = sorted((self.first, self.last))
        if not low <= counter <= high:
            return False
        return counter == self.first or (counter - self.first) % self.step == 0


@dataclass(frozen=True, slots=True)
class ObjectUse:
    """Ops need object ``actor``:``counter`` to be a ``need`` (MAP or SEQUENCE)."""

    actor: bytes
    counter: int
    need: str


def _value_is_null(action, meta, fail):
    if action in _ACTION_NAMES and meta != 0:
        raise fail(
            VAL_LEN,
            f"a {_ACTION_NAMES[action]} op carries a value; Automerge writes "
            "none, and would not load the document",
        )


def change_semantics(ops: ColumnSet, start_op: int, actors: tuple, fail):
    """Check a change's ops (see module docstring); return what they need.

    ``actors[0]`` is the change's actor; op ``i`` has ID ``start_op + i`` by it.
    Returns ``(objects, uses, named_actors)``: the ObjectRanges made, the
    ObjectUses of objects made elsewhere, and the set of actors whose ops are
    named as elements or predecessors, with every actor in ``actors[1:]``.
    """
    end_op = start_op + ops.rows  # one past the change's last op ID
    made: list[tuple[int, int, str]] = []  # (first, count, kind), IDs step 1
    inserted = _Inserted()  # the change's insert ops, by object
    uses: set[ObjectUse] = set()
    named: set[bytes] = set()
    row = 0
    for rows, columns in _aligned(
        _segments(ops.runs(ACTION)),
        _segments(ops.runs(VAL_LEN)),
        _segments(ops.runs(OBJ_ACTOR)),
        _segments(ops.runs(OBJ_CTR)),
        _segments(ops.runs(INSERT)),
        _segments(ops.runs(KEY_STR)),
        _segments(ops.runs(KEY_ACTOR)),
        _segments(ops.runs(KEY_CTR), delta=True),
    ):
        (action, _), (meta, _), (obj_actor, _), (obj_ctr, _) = columns[:4]
        (insert, _), (key_str, _), (key_actor, _), (key_ctr, key_step) = columns[4:]
        _value_is_null(action, meta, fail)
        need = SEQUENCE if insert or key_str is None else MAP
        obj = None
        if obj_actor is not None:
            if obj_ctr is None:
                raise fail(OBJ_CTR, "an op's object has an actor but no counter")
            obj = (obj_actor, obj_ctr)
            _use_object(obj, need, start_op, start_op + row, made, uses, actors, fail)
            if insert:
                inserted.add(start_op + row, rows, obj)
        elif need != MAP:
            raise fail(
                INSERT, "an op inserts into, or names an element of, the root map"
            )
        if key_actor is not None:
            key_last = key_ctr + (rows - 1) * key_step
            if key_actor == 0 and max(key_ctr, key_last) >= start_op:
                # Each op's element must be an earlier op of this change: the
                # difference (element - own ID) moves linearly over the run.
                own = start_op + row
                if key_ctr - own >= 0 or key_last - (own + rows - 1) >= 0:
                    raise fail(
                        KEY_CTR,
                        "an op names as its element an op of the same change "
                        "that does not come before it",
                    )
                _own_elements(
                    inserted, obj, (key_ctr, key_last, key_step), start_op, fail
                )
            else:
                if obj[0] == 0 and obj[1] >= start_op:
                    raise fail(KEY_ACTOR if key_actor else KEY_CTR, _NOT_INSERTED)
                named.add(actors[key_actor])
        if action in MAKE_KINDS:
            _extend(made, start_op + row, rows, MAKE_KINDS[action])
        row += rows
    for rows, ((actor, _), (counter, step)) in _aligned(
        _segments(ops.runs(PRED_ACTOR)), _segments(ops.runs(PRED_CTR), delta=True)
    ):
        if actor is None:
            continue  # refused by the column checks already
        highest = max(counter, counter + (rows - 1) * step)
        if actor == 0 and highest >= start_op:
            if highest >= end_op:
                raise fail(
                    PRED_CTR, "an op's predecessor is an op this change does not have"
                )
        else:
            named.add(actors[actor])
    # Automerge 3 panics on a change whose actor table lists an actor the
    # document lacks, even when no op names it: every listed actor counts.
    named.update(actors[1:])
    objects = tuple(
        ObjectRange(actors[0], first, 1 if count > 1 else 0, count, kind)
        for first, count, kind in made
    )
    return objects, frozenset(uses), frozenset(named)


class _Inserted:
    """The op IDs of a change's insert ops: intervals, each into one object."""

    def __init__(self):
        self.starts: list[int] = []
        self.spans: list[list] = []  # [first, last, object], in op ID order

    def add(self, first, count, obj):
        if self.spans:
            span = self.spans[-1]
            if span[1] + 1 == first and span[2] == obj:
                span[1] += count
                return
        self.starts.append(first)
        self.spans.append([first, first + count - 1, obj])

    def covers(self, low, high, step, obj):
        """True if ops ``low``, ``low + step``, ... ``high`` all insert into ``obj``.

        Steps from span to span, so the cost follows the spans, not the ops.
        """
        point = low
        while point <= high:
            at = bisect_right(self.starts, point) - 1
            if at < 0:
                return False
            _, last, into = self.spans[at]
            if last < point or into != obj:
                return False
            point += ((last - point) // step + 1) * step
        return True


_NOT_INSERTED = (
    "an op on an object made by the same change names an element that change "
    "did not insert"
)


def _own_elements(inserted, obj, run, start_op, fail):
    """Elements ``first``, ``first + step``, ... ``last`` (``run``) that name ops
    of this change must be its insert ops into ``obj``; an object this change
    makes has no other elements.

    Automerge 3.5 places an op by finding the insert op that made its element
    among the object's ops; an element it does not find there (an op of another
    object, or one that inserts nothing) makes ``Automerge.load`` panic
    ("assertion failed: self.entry.is_empty()"). Elements that name ops of other
    changes would need the document to check.
    """
    first, last, step = run
    low, high = (first, last) if first <= last else (last, first)
    step = abs(step) or 1
    if low < start_op:
        if obj[0] == 0 and obj[1] >= start_op:
            raise fail(KEY_CTR, _NOT_INSERTED)
        low += -((low - start_op) // step) * step
    if not inserted.covers(low, high, step, obj):
        raise fail(
            KEY_CTR,
            "an op names as its element an op of the same change that does not "
            "insert into the op's object",
        )


def _extend(made, first, count, kind):
    """Add ``count`` objects from op ``first`` on, joining the previous range."""
    if made and made[-1][2] == kind and sum(made[-1][:2]) == first:
        previous = made.pop()
        made.append((previous[0], previous[1] + count, kind))
    else:
        made.append((first, count, kind))


def _use_object(obj, need, start_op, own_id, made, uses, actors, fail):
    """Record (or check, if the change made it) a use of object ``obj``."""
    actor, counter = obj
    if actor == 0 and counter >= start_op:
        for first, count, kind in made:
            if first <= counter < first + count:
                if counter >= own_id:
                    break
                if not fits(kind, need):
                    raise fail(
                        INSERT if need == SEQUENCE else KEY_STR,
                        f"an op needs a {need} object but works on a {kind} "
                        "made by the same change",
                    )
                return
        raise fail(
            OBJ_CTR,
            "an op works on an object that is not made by an earlier op of the "
            "same change",
        )
    uses.add(ObjectUse(actors[actor], counter, need))


def document_semantics(
    ops: ColumnSet, actors: tuple, changes: tuple, fail, budget: Budget
):
    """Check a document's ops (see module docstring).

    ``changes`` are the chunk's changes (``actor``, ``seq``, ``max_op`` and
    ``deps``, indices into ``changes``). Returns the ObjectRanges and whether a
    change holds no ops (``Automerge.emptyChange``). Op IDs kept one by one
    (runs whose step is not 1) count against the budget's ``max_runs``.
    """
    max_ops = {}
    for change in changes:
        max_ops[change.actor] = max(max_ops.get(change.actor, 0), change.max_op)
    objects: list[ObjectRange] = []
    previous = None  # the last op ID of the previous run: (actor, counter)
    progressions: dict[int, list] = {}  # actor -> [(first, step, rows), ...]
    for rows, columns in _aligned(
        _segments(ops.runs(ACTION)),
        _segments(ops.runs(VAL_LEN)),
        _segments(ops.runs(ID_ACTOR)),
        _segments(ops.runs(ID_CTR), delta=True),
    ):
        (action, _), (meta, _), (actor, _), (counter, step) = columns
        _value_is_null(action, meta, fail)
        last = counter + (rows - 1) * step
        if (rows > 1 and step == 0) or previous == (actor, counter):
            raise fail(ID_CTR, f"op ID {counter}@{actor} appears twice")
        if min(counter, last) < 1 or max(counter, last) > max_ops.get(actors[actor], 0):
            raise fail(
                ID_CTR,
                f"an op ID of actor {actor} lies outside that actor's changes",
            )
        previous = (actor, last)
        progressions.setdefault(actor, []).append((counter, step, rows))
        if action in MAKE_KINDS:
            objects.append(
                ObjectRange(
                    actors[actor],
                    counter,
                    step if rows > 1 else 0,
                    rows,
                    MAKE_KINDS[action],
                )
            )
    _charge_points(progressions, budget, fail, ID_CTR)
    intervals = {}
    for actor, runs in progressions.items():
        intervals[actor], repeated = _op_intervals(runs)
        if repeated is not None:
            raise fail(ID_CTR, f"op ID {repeated}@{actor} appears twice")
    # A document chunk leaves delete ops out: they are the successors that are
    # not ops of the chunk. With them, every op ID of every change is here.
    successors: dict[int, list] = {}
    for rows, ((actor, _), (counter, step)) in _aligned(
        _segments(ops.runs(SUCC_ACTOR)), _segments(ops.runs(SUCC_CTR), delta=True)
    ):
        successors.setdefault(actor, []).append((counter, step, rows))
    _charge_points(successors, budget, fail, SUCC_CTR)
    for actor, runs in successors.items():
        # Both lists are sorted: sorting their concatenation merges them.
        intervals[actor] = sorted(intervals.get(actor, []) + _op_intervals(runs)[0])
    spans = {actors[actor]: _joined(found) for actor, found in intervals.items()}
    return tuple(objects), _changes_own_their_ops(changes, spans, fail)


def _changes_own_their_ops(changes, spans, fail):
    """Check each change's ops against its dependencies; True if one holds none.

    The ops of an actor's change with seq s are that actor's op IDs above the
    max_op of its change s - 1, up to its own max_op. Automerge numbers them one
    by one from one past the highest op ID its dependencies hold, so they are
    consecutive, end at the change's max_op and lie above every dependency's
    max_op, and a change whose max_op is its dependencies' holds no ops. A
    document that breaks this (a dependency index or a max_op changed, say) does
    not load. ``spans`` maps each actor to its op IDs, deletes included, as
    sorted spans of consecutive counters.
    """
    empty = False
    before = {}  # actor -> max_op of its previous change
    for change in sorted(changes, key=lambda c: (c.actor, c.seq)):
        floor = before.get(change.actor, 0)
        deps_max_op = max((changes[d].max_op for d in change.deps), default=0)
        if change.max_op < max(floor, deps_max_op):
            raise fail(
                ID_CTR,
                f"change {change.seq} of actor {change.actor.hex()} has a lower "
                "maxOp than a change it follows",
            )
        span = _span_above(spans.get(change.actor, ()), floor)
        if span is not None and span[0] <= change.max_op:
            first, last = span
            if first <= deps_max_op:
                raise fail(
                    ID_CTR,
                    f"op {first}@{change.actor.hex()} of change {change.seq} is "
                    "not above the op IDs of that change's dependencies",
                )
            if last < change.max_op:
                raise fail(
                    ID_CTR,
                    f"change {change.seq} of actor {change.actor.hex()} lacks op "
                    f"{last + 1}, below its maxOp {change.max_op}",
                )
        empty = empty or change.max_op == deps_max_op
        before[change.actor] = change.max_op
    return empty


def _span_above(spans, floor):
    """The first span of consecutive counters above ``floor``, as (first, last).

    ``spans`` are sorted, disjoint and not adjacent. None if there is none.
    """
    at = bisect_right(spans, (floor, float("inf"))) - 1
    if at >= 0 and spans[at][1] > floor:
        return floor + 1, spans[at][1]
    return spans[at + 1] if at + 1 < len(spans) else None


def _joined(intervals):
    """Sorted ``intervals``, overlapping or adjacent ones joined into spans."""
    spans = []
    for low, high in intervals:
        if spans and low <= spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], max(high, spans[-1][1]))
        else:
            spans.append((low, high))
    return spans


def _charge_points(progressions, budget, fail, spec):
    """Count the op IDs ``_op_intervals`` will keep one by one against the budget.

    A run of a million op IDs two apart takes a few bytes to send and, kept one
    by one, about 90 MiB: the reader's ``max_runs`` bounds that memory.
    """
    points = sum(
        rows
        for runs in progressions.values()
        for _, step, rows in runs
        if rows > 1 and abs(step) > 1
    )
    if points > budget.runs_left():
        found = fail(
            spec,
            f"more than max_runs={budget.limits.max_runs} runs and op IDs to keep "
            "in memory",
        )
        raise LimitError(found.reason, found.offset)
    budget.add_runs(points)


def _op_intervals(runs):
    """Sorted intervals of the op IDs in ``runs`` (first, step, rows), and a repeat.

    The repeat is a counter two runs share, or None. Automerge 3 puts each op of a
    change in the slot its counter names and panics on a document whose op IDs
    repeat, however far apart. Runs of step 1 (the usual case) and single ops are
    intervals; other runs, whose rows the budget has already paid for, are
    expanded.
    """
    intervals = []
    for first, step, rows in runs:
        last = first + (rows - 1) * step
        if rows == 1 or abs(step) <= 1:  # step 0: one successor named again
            intervals.append((min(first, last), max(first, last)))
        else:
            intervals.extend((c, c) for c in range(first, last + step, step))
    intervals.sort()
    for (_, end), (start, _) in pairwise(intervals):
        if start <= end:
            return intervals, start
    return intervals, None
