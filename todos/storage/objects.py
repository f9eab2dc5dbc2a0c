"""The objects a document makes, and the check that new ops work on real objects.

Every op works on an object (the root map, or a map, list or text some op made);
``KnownObject`` indexes the objects each stored document makes, by actor and
op-counter range. ``_ObjectChecks`` (mixed into ``_Merge``) refuses a change whose
ops work on an object the document lacks or on the wrong kind of object, and
indexes the objects that a write stores.
"""

from django.db.models import Q

from ..automerge_format import parse_chunks
from ..automerge_format.semantics import fits
from ..models import Chunk, KnownObject
from . import limits
from .errors import BadUpload

OBJECT_LOOKUP_BATCH = 200  # objects looked up per query
NOT_STORED = (
    "Nothing was stored. The change was damaged before it reached the server; "
    "reload the list to get the server's copy, or send Automerge.save(doc) from "
    "a device whose copy of the list opens."
)


class _Made:
    """Objects made so far in an upload, to find by actor and op counter."""

    def __init__(self):
        self.single = {}  # (actor, counter) -> kind
        self.ranges = []  # ObjectRanges of more than one object

    def add(self, ranges):
        for made in ranges:
            if made.count == 1:
                self.single[made.actor, made.first] = made.kind
            else:
                self.ranges.append(made)

    def kind_of(self, actor, counter):
        kind = self.single.get((actor, counter))
        if kind is None:
            for made in self.ranges:
                if made.actor == actor and made.holds(counter):
                    return made.kind
        return kind


def _describe(change):
    return f"Change {change.seq} of actor {change.actor.hex()}"


def _wrong_kind(change, actor, counter, kind):
    return BadUpload(
        f"{_describe(change)} works on object {counter}@{actor}, a {kind}, as if "
        "it were another kind of object (a key on a list, or an insert into a "
        f"map), so Automerge could not load the document with it. {NOT_STORED}"
    )


def _in_progression(counter, first, last, step):
    """True if ``counter`` is one of first, first + step, ... last."""
    if not first <= counter <= last:
        return False
    return counter == first or (step and (counter - first) % step == 0)


def _stored_op_counters(chunk, stored_clock):
    """Actor -> highest op counter of the chunk's changes that are stored already."""
    done = {}
    for meta in chunk.changes:
        if meta.seq <= stored_clock.get(meta.actor.hex(), 0):
            done[meta.actor] = max(done.get(meta.actor, 0), meta.max_op)
    return done


def _object_rows(document, ranges, done=None):
    """KnownObject rows for ``ranges``, leaving out counters up to ``done[actor]``."""
    rows = []
    for made in ranges:
        step = abs(made.step)
        first, last = sorted((made.first, made.last))
        skip = (done or {}).get(made.actor, 0)
        if last <= skip:
            continue
        if first <= skip:
            first += ((skip - first) // step + 1) * step
        rows.append(
            KnownObject(
                document=document,
                actor=made.actor.hex(),
                first=first,
                last=last,
                step=step if first != last else 0,
                kind=made.kind,
            )
        )
    return rows


class _ObjectChecks:
    """The object checks and index upkeep of ``_Merge``, which mixes them in.

    They use the merge's ``document``, ``kept`` (new chunks) and ``clock``, and set
    ``index_built`` and ``stored_any`` for ``_Merge.apply``.
    """

    def _check_objects(self):
        """Refuse new changes whose ops work on objects the document lacks.

        Every object an op works on must be made by the stored document (looked
        up in ``KnownObject``) or earlier in this upload, and be of the kind the
        op needs (a map for a key, a list or text for an insert or an element);
        every actor whose op is named as an element or predecessor must have
        changes in the document. Automerge cannot load a document that breaks
        these rules, so one such change would break the list for every client.
        """
        changes = [c for c, _ in self.kept if c.kind == "change"]
        if not changes:
            return
        made = _Made()
        for chunk, _ in self.kept:
            if chunk.kind == "document":
                made.add(chunk.objects)
        wanted = {}  # (actor, counter) -> [(need, change)], to look up
        for change in changes:  # in dependency order
            for use in change.object_uses:
                kind = made.kind_of(use.actor, use.counter)
                if kind is None:
                    key = (use.actor.hex(), use.counter)
                    wanted.setdefault(key, []).append((use.need, change))
                elif not fits(kind, use.need):
                    raise _wrong_kind(change, use.actor.hex(), use.counter, kind)
            for actor in change.named_actors:
                if actor.hex() not in self.clock:
                    raise BadUpload(
                        f"{_describe(change)} names actor {actor.hex()}, which "
                        "has no changes in this document, so Automerge "
                        f"could not load the document with it. {NOT_STORED}"
                    )
            made.add(change.objects)
        if wanted:
            self._check_stored_objects(wanted)

    def _check_stored_objects(self, wanted):
        """Look the objects in ``wanted`` up among the stored document's objects."""
        self._ensure_object_index()
        keys = sorted(wanted)
        found = {}
        for start in range(0, len(keys), OBJECT_LOOKUP_BATCH):
            batch = keys[start : start + OBJECT_LOOKUP_BATCH]
            query = Q()
            for actor, counter in batch:
                query |= Q(actor=actor, first__lte=counter, last__gte=counter)
            rows = KnownObject.objects.filter(query, document=self.document)
            for row in rows.values_list("actor", "first", "last", "step", "kind"):
                actor, first, last, step, kind = row
                for key in batch:
                    if key[0] == actor and _in_progression(key[1], first, last, step):
                        found[key] = kind
        for key in keys:
            for need, change in wanted[key]:
                if key not in found:
                    raise BadUpload(
                        f"{_describe(change)} works on object {key[1]}@{key[0]}, "
                        "which this document does not have, so Automerge could "
                        f"not load the document with it. {NOT_STORED}"
                    )
                if not fits(found[key], need):
                    raise _wrong_kind(change, key[0], key[1], found[key])

    def _ensure_object_index(self):
        """Index the stored chunks' objects if the document predates the index."""
        document = self.document
        if document.objects_indexed or not document.chunk_count:
            return
        rows = []
        for data in Chunk.objects.filter(document=document).values_list(
            "data", flat=True
        ):
            for chunk in parse_chunks(bytes(data), limits.upload_limits()):
                rows += _object_rows(document, chunk.objects)
        KnownObject.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        self.index_built = True

    def _index_objects(self):
        """Add the objects that the new chunks make to ``KnownObject``.

        A document chunk also holds changes that are stored already, whose
        objects are indexed: only its ops past each actor's stored changes count.
        """
        self.stored_any = bool(self.document.chunk_count)
        rows = []
        for chunk, _ in self.kept:
            if chunk.kind == "change":
                rows += _object_rows(self.document, chunk.objects)
            else:
                done = _stored_op_counters(chunk, self.document.clock)
                rows += _object_rows(self.document, chunk.objects, done)
        KnownObject.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
