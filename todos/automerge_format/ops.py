"""The op columns of change and document chunks, and what makes an op valid.

Public API: ``CHANGE_OP_COLUMNS`` and ``DOC_OP_COLUMNS`` (column names by
specification, from the spec), ``ACTION``, and ``check_ops(column_set, columns,
names, document=..., offset=...)``, which checks, as Automerge's own column
readers do, what the column decoders alone cannot: the columns every op needs
have a value on every op (id, insert, action, value, predecessors or
successors), every action is one Automerge knows (0-7), an increment carries an
integer, and predecessor and successor lists hold complete op IDs. In a change
it also checks each op's key and object: a key is a string, ``_head`` or an
element ID, never a mix; an object is the root or an op ID. These checks walk
runs, not rows, so their cost follows the size of the chunk.
"""

from collections.abc import Iterator

from .columns import Column, ColumnSet
from .errors import FormatError
from .values import VALUE_INT, VALUE_UINT

__all__ = ["CHANGE_OP_COLUMNS", "DOC_OP_COLUMNS", "ACTION", "check_ops", "failure"]

OBJ_ACTOR, OBJ_CTR = 0x01, 0x02
KEY_ACTOR, KEY_CTR, KEY_STR = 0x11, 0x13, 0x15
ID_ACTOR, ID_CTR = 0x21, 0x23
INSERT, ACTION, VAL_LEN, VAL_RAW = 0x34, 0x42, 0x56, 0x57
PRED_NUM, PRED_ACTOR, PRED_CTR = 0x70, 0x71, 0x73
SUCC_NUM, SUCC_ACTOR, SUCC_CTR = 0x80, 0x81, 0x83
EXPAND, MARK_NAME = 0x94, 0xA5
PRED_LIST = (PRED_NUM, PRED_ACTOR, PRED_CTR)
SUCC_LIST = (SUCC_NUM, SUCC_ACTOR, SUCC_CTR)

_COMMON = {
    OBJ_ACTOR: "objActor",
    OBJ_CTR: "objCtr",
    KEY_ACTOR: "keyActor",
    KEY_CTR: "keyCtr",
    KEY_STR: "keyStr",
    INSERT: "insert",
    ACTION: "action",
    VAL_LEN: "valLen",
    VAL_RAW: "valRaw",
    EXPAND: "expand",
    MARK_NAME: "markName",
}
CHANGE_OP_COLUMNS = {
    **_COMMON,
    PRED_NUM: "predNum",
    PRED_ACTOR: "predActor",
    PRED_CTR: "predCtr",
}
DOC_OP_COLUMNS = {
    **_COMMON,
    ID_ACTOR: "idActor",
    ID_CTR: "idCtr",
    SUCC_NUM: "succNum",
    SUCC_ACTOR: "succActor",
    SUCC_CTR: "succCtr",
}

MAX_ACTION = 7  # makeMap set makeList del makeText inc makeTable mark
INCREMENT = 5
MARK = 7  # a mark's start or end (Automerge 2.1 and later)
# Columns that must have a value on every op (Automerge reads them as required).
REQUIRED_CHANGE_COLUMNS = (INSERT, ACTION, VAL_LEN, PRED_NUM)
REQUIRED_DOC_COLUMNS = (ID_ACTOR, ID_CTR, INSERT, ACTION, VAL_LEN, SUCC_NUM)


def _segments(runs: list, *, delta: bool = False) -> Iterator[tuple]:
    """Runs as ``(rows, first, step)``: row i of the segment is ``first + i * step``.

    ``first`` is None for nulls; for a delta column the values are running totals.
    """
    total = 0
    for count, value in runs:
        if value is None:
            yield count, None, 0
        elif delta:
            yield count, total + value, value
            total += count * value
        else:
            yield count, value, 0


def _aligned(*columns: Iterator[tuple]) -> Iterator[tuple[int, list]]:
    """Walk segment streams side by side: yield ``(rows, [(first, step), ...])``.

    A stream that has ended (an empty column) reads as nulls.
    """
    streams = [iter(c) for c in columns]
    heads = [next(s, None) for s in streams]
    while True:
        live = [h[0] for h in heads if h is not None]
        if not live:
            return
        rows = min(live)
        if rows:
            yield rows, [(None, 0) if h is None else (h[1], h[2]) for h in heads]
        for i, head in enumerate(heads):
            if head is None:
                continue
            count, first, step = head
            if count == rows:
                heads[i] = next(streams[i], None)
            else:
                moved = first if first is None or not step else first + rows * step
                heads[i] = (count - rows, moved, step)


def _lowest(first: int, step: int, rows: int) -> int:
    return min(first, first + (rows - 1) * step)


def check_ops(
    column_set: ColumnSet,
    columns: dict[int, Column],
    names: dict,
    *,
    document: bool,
    offset: int,
) -> None:
    """Check op-level rules on a decoded op column set (see module docstring).

    Needs the runs of the action column kept, and for a change all runs.
    ``offset`` is where the op columns start, for errors about a missing column.
    """
    rows = column_set.rows
    if not rows:
        return
    decoded = column_set.decoded
    fail = failure(columns, names, offset)
    for spec in REQUIRED_DOC_COLUMNS if document else REQUIRED_CHANGE_COLUMNS:
        found = decoded.get(spec)
        if found is None or found.rows != rows or found.nulls:
            raise fail(spec, f"an op has no {names[spec]}")
    _check_actions(column_set, fail)
    id_list = SUCC_LIST if document else PRED_LIST
    _check_op_id_lists(decoded, *id_list, columns, fail)
    if not document:
        _check_keys(column_set, fail)
        _check_objects(column_set, fail)


def failure(columns: dict[int, Column], names: dict, offset: int):
    """``fail(spec, reason) -> FormatError`` naming column ``spec`` and its offset.

    A column the chunk lacks is reported at ``offset``.
    """

    def fail(spec: int, reason: str) -> FormatError:
        at = columns[spec].offset if spec in columns else offset
        return FormatError(f"{names[spec]} column: {reason}", at)

    return fail


def any_marks(column_set: ColumnSet) -> bool:
    """Whether any op is a mark (needs the runs of the action column kept)."""
    return any(action == MARK for _, action in column_set.runs(ACTION))


def _check_actions(column_set: ColumnSet, fail) -> None:
    """Every action is known, and an increment carries an integer."""
    actions = column_set.runs(ACTION)
    has_increment = False
    for _, action in actions:
        if action > MAX_ACTION:
            raise fail(ACTION, f"unknown action {action}")
        if action == INCREMENT:
            has_increment = True
    if has_increment:
        for _, ((action, _), (meta, _)) in _aligned(
            _segments(actions), _segments(column_set.runs(VAL_LEN))
        ):
            if action == INCREMENT and (
                meta is None or meta & 0x0F not in (VALUE_UINT, VALUE_INT)
            ):
                raise fail(ACTION, "an increment op's value is not an integer")


def _check_op_id_lists(decoded, num, actor, counter, columns, fail) -> None:
    """Predecessor (or successor) lists hold complete op IDs: actor and counter.

    The group's other columns, if any, must be exactly its actor and counter.
    """
    members = sorted(s for s in columns if s >> 4 == num >> 4 and s != num)
    if members and members != [actor, counter]:
        found = ", ".join(f"{s:#x}" for s in members)
        raise fail(
            num,
            f"group holds columns {found}; it must hold {actor:#x} and "
            f"{counter:#x}, or nothing",
        )
    total = sum(n * v for n, v in decoded[num].runs if v)
    if not total:
        return
    for spec in (actor, counter):
        found = decoded.get(spec)
        if found is None or found.rows != total or found.nulls:
            raise fail(spec, "an op ID in the list has no " + _part_name(spec))
    if decoded[counter].low < 0:
        raise fail(counter, "an op ID in the list has a negative counter")


def _part_name(spec: int) -> str:
    return "actor" if spec & 0x07 == 1 else "counter"


def _check_keys(column_set: ColumnSet, fail) -> None:
    """Each op's key is a string, or an element ID: _head (counter 0, no actor)
    or an actor and a non-negative counter; never a mix."""
    for rows, (_, (actor, _), (counter, step), (string, _)) in _aligned(
        _segments(column_set.runs(ACTION)),
        _segments(column_set.runs(KEY_ACTOR)),
        _segments(column_set.runs(KEY_CTR), delta=True),
        _segments(column_set.runs(KEY_STR)),
    ):
        if string is not None:
            if actor is not None or counter is not None:
                raise fail(KEY_STR, "an op has both a key string and an element ID")
        elif counter is None:
            raise fail(KEY_CTR, "an op has no key")
        elif actor is None:
            if counter != 0 or (step and rows > 1):
                raise fail(KEY_ACTOR, "an op's element ID has a counter but no actor")
        elif _lowest(counter, step, rows) < 0:
            raise fail(KEY_CTR, "an op's element ID has a negative counter")


def _check_objects(column_set: ColumnSet, fail) -> None:
    """Each op's object is the root (no actor, counter null or 0) or an op ID."""
    actors, counters = column_set.runs(OBJ_ACTOR), column_set.runs(OBJ_CTR)
    if not actors or not counters:
        return  # Automerge reads the object of every op as the root
    for _, ((actor, _), (counter, _)) in _aligned(
        _segments(actors), _segments(counters)
    ):
        if actor is None and counter not in (None, 0):
            raise fail(OBJ_ACTOR, "an op's object has a counter but no actor")
        if actor is not None and counter is None:
            raise fail(OBJ_CTR, "an op's object has an actor but no counter")
