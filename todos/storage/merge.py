"""One write's merge: which incoming chunks to keep and which stored ones to drop.

``_Merge.plan`` decides, refusing changes whose history the stored document
lacks (MissingDependencies) or contradicts (BadUpload); ``_Merge.apply`` writes
the chunk rows and the document row's summary in the caller's transaction.
"""

import functools

from .. import reference
from ..models import Chunk, KnownChange
from .errors import BadUpload, MissingDependencies, TooLarge
from .history import (
    _advance,
    _change_total,
    _check_next,
    _check_numbering,
    _contains,
    _head_histories,
    _hex_clock,
    _history_before,
    _holds,
)
from .limits import max_document_bytes
from .objects import _ObjectChecks
from .results import WriteResult
from .summary import _chunk_row, _heads, etag_of


class _Merge(_ObjectChecks):
    """One write's plan: which incoming chunks to keep and which stored ones to drop."""

    def __init__(self, document, incoming):
        self.document = document
        self.incoming = incoming
        self.clock = dict(document.clock)
        self.kept = []  # (parsed chunk, position or None) to insert
        self.dropped = set()  # positions of stored chunks to delete
        self.histories = {}  # hash (hex) -> history clock or None, to remember
        self.index_built = False  # KnownObject rows for stored chunks written now

    @functools.cached_property
    def stored(self):
        """The stored chunks' rows, without their bytes; read only when needed.

        An upload of changes alone never needs them: the document row's clock,
        heads and counts are enough, so such a write costs the same whatever the
        number of stored chunks.
        """
        return list(
            Chunk.objects.filter(document=self.document)
            .defer("data")
            .order_by("position")
        )

    def plan(self):
        """Decide what to add and drop; raise MissingDependencies if it can't merge."""
        documents = [c for c in self.incoming if c.kind == "document"]
        changes = [c for c in self.incoming if c.kind == "change"]
        for chunk in documents:
            self._plan_document(chunk)
        new_changes = self._topological(self._new_changes(changes))
        self._check_history(new_changes)
        for change in new_changes:
            self.kept.append((change, None))
            _advance(self.clock, change.actor.hex(), change.seq)
        self._check_objects()

    def _plan_document(self, chunk):
        """Keep a document chunk unless one chunk already holds it or it adds nothing.

        It replaces every stored chunk it contains, taking the place of the first
        so that chunks after it still follow their dependencies; a save that holds
        everything stored therefore compacts the document to that one chunk.
        """
        _check_numbering(chunk)
        chunk_clock = _hex_clock(chunk.clock)
        live = [c for c in self.stored if c.position not in self.dropped]
        if any(_holds(c.kind, c.clock, chunk_clock) for c in live) or any(
            _holds(c.kind, _hex_clock(c.clock), chunk_clock) for c, _ in self.kept
        ):
            return
        replaced = [c for c in live if _contains(chunk_clock, c.clock)]
        superseded = [
            kept
            for kept in self.kept
            if kept[0].kind == "document"
            and _contains(chunk_clock, _hex_clock(kept[0].clock))
        ]
        if (live or self.kept) and not (replaced or superseded):
            if _contains(self.clock, chunk_clock):
                return  # stored already, spread over several chunks: keep those
        self.dropped.update(c.position for c in replaced)
        positions = [c.position for c in replaced]
        positions += [p for _, p in superseded if p is not None]
        for kept in superseded:
            self.kept.remove(kept)
        self.kept.append((chunk, min(positions, default=None)))
        self.histories.update(_head_histories(chunk))
        for actor, seq in chunk_clock.items():
            _advance(self.clock, actor, seq)

    def _new_changes(self, changes):
        seen = set()
        fresh = []
        for change in changes:
            if (
                change.hash in seen
                or self.clock.get(change.actor.hex(), 0) >= change.seq
            ):
                continue
            seen.add(change.hash)
            fresh.append(change)
        return fresh

    def _check_history(self, changes):
        """Refuse changes whose history the stored document lacks or contradicts.

        Each change must be its actor's next (seq one past the stored clock), and
        its dependencies must hold its actor's previous change; Automerge cannot
        load a document that breaks either rule. Dependencies are looked up among
        the hashes the document is known to hold, with their history clocks. A
        change inside a stored document chunk is known by actor and seq only, not
        by hash, so an unknown dependency may still be stored: then the independent
        reader loads the stored chunks plus the new changes to decide, and the
        hashes it vouches for are remembered for next time.
        """
        if not changes:
            return
        histories = dict(self.histories)
        uploaded = {c.hash.hex() for c in changes}
        wanted = {d.hex() for c in changes for d in c.deps} - uploaded - set(histories)
        histories.update(
            KnownChange.objects.filter(
                document=self.document, hash__in=wanted
            ).values_list("hash", "history")
        )
        missing = sorted(wanted - set(histories))
        self._follow_history(changes, histories)
        unsure = [c for c in changes if histories[c.hash.hex()] is None]
        if unsure:
            if not self._stored_history_has(changes):
                first = missing[0][:16] if missing else unsure[0].hash.hex()[:16]
                raise MissingDependencies(
                    "The server does not have all the changes this upload depends "
                    f"on (first: {first}...). Send the full document instead: "
                    "Automerge.save(doc)."
                )
            # The reader vouched that every dependency is stored, so the stored
            # clock bounds each unknown history from above: later checks against
            # the bound never refuse a change Automerge makes.
            self._follow_history(changes, histories, unknown=dict(self.clock))
        self.histories.update(
            {h: histories.get(h) or dict(self.clock) for h in missing}
        )
        self.histories.update({c.hash.hex(): histories[c.hash.hex()] for c in changes})

    def _follow_history(self, changes, histories, unknown=None):
        """Give each change (in order) its history clock, checking it on the way.

        A dependency whose history is not known counts as ``unknown``; with None,
        so does the change that depends on it, and it is not checked.
        """
        clock = dict(self.clock)
        for change in changes:
            actor, seq = change.actor.hex(), change.seq
            _check_next(actor, seq, clock.get(actor, 0))
            history = _history_before(change, histories, unknown)
            if history is not None:
                if history.get(actor, 0) != seq - 1:
                    raise BadUpload(
                        f"Change {seq} of actor {actor} does not build on that "
                        f"actor's change {seq - 1}, so Automerge could not load "
                        "the document. Send the unmodified output of "
                        "Automerge.save(doc)."
                    )
                history[actor] = seq
            histories[change.hash.hex()] = history
            clock[actor] = seq

    def _stored_history_has(self, changes):
        """Ask the independent reader whether stored + new chunks load together."""
        if not any(c.kind == Chunk.DOCUMENT for c in self.stored) and not any(
            c.kind == "document" for c, _ in self.kept
        ):
            return False  # every stored change is known by hash: nothing to find
        live = [c.position for c in self.stored if c.position not in self.dropped]
        parts = Chunk.objects.filter(
            document=self.document, position__in=live
        ).values_list("data", flat=True)
        data = b"".join(
            [bytes(p) for p in parts]
            + [c.raw for c, _ in self.kept]
            + [c.raw for c in self._topological(changes)]
        )
        return reference.load_error(data) is None

    @staticmethod
    def _topological(changes):
        """Order changes so each follows the ones it depends on (Kahn's algorithm)."""
        by_hash = {c.hash: c for c in changes}
        ordered, placed = [], set()
        pending = list(changes)
        while pending:
            remaining = []
            for change in pending:
                if all(d in placed or d not in by_hash for d in change.deps):
                    ordered.append(change)
                    placed.add(change.hash)
                else:
                    remaining.append(change)
            if len(remaining) == len(pending):
                raise BadUpload(
                    "The upload's changes depend on each other in a cycle, which "
                    "Automerge never produces; send Automerge.save(doc) instead."
                )
            pending = remaining
        return ordered

    def apply(self):
        """Write the plan; return the WriteResult (pushes are sent after commit)."""
        document = self.document
        if not self.kept and document.chunk_count:
            return self._result(changed=False)
        appending = not self.dropped and all(c.kind == "change" for c, _ in self.kept)
        Chunk.objects.filter(document=document, position__in=self.dropped).delete()
        next_position = document.next_position
        new_rows = []
        for chunk, position in self.kept:
            if position is None:
                position, next_position = next_position, next_position + 1
            new_rows.append(_chunk_row(document, chunk, position))
        Chunk.objects.bulk_create(new_rows)
        KnownChange.objects.bulk_create(
            [
                KnownChange(document=document, hash=h, history=history)
                for h, history in sorted(self.histories.items())
            ],
            ignore_conflicts=True,
        )
        self._index_objects()
        if appending:
            self._append_summary(new_rows)
        else:
            rows = [c for c in self.stored if c.position not in self.dropped]
            self._summarise(sorted(rows + new_rows, key=lambda c: c.position))
        if document.size > max_document_bytes():
            raise TooLarge(
                f"Storing this upload would make the document {document.size} bytes; "
                f"the limit is {max_document_bytes()} bytes (TODOS_MAX_DOCUMENT_BYTES)."
            )
        new_changes = _change_total(self.clock) - _change_total(document.clock)
        document.change_count = _change_total(self.clock)
        document.clock = self.clock
        document.next_position = next_position
        fields = [*WRITTEN_FIELDS, "updated_at"]
        if not document.objects_indexed and (self.index_built or not self.stored_any):
            document.objects_indexed = True
            fields.append("objects_indexed")
        document.save(update_fields=fields)
        new_bytes = b"".join(c.raw for c, _ in self.kept) if new_changes else b""
        return self._result(changed=True, new_bytes=new_bytes, new_changes=new_changes)

    def _append_summary(self, new_rows):
        """Update the document's summary for chunks appended after all the others."""
        document = self.document
        depended = {dep for row in new_rows for dep in row.deps}
        added = {row.heads[0][0] for row in new_rows}
        document.heads = sorted((set(document.heads) | added) - depended)
        document.size += sum(row.size for row in new_rows)
        document.chunk_count += len(new_rows)
        document.etag = etag_of((row.digest for row in new_rows), document.etag)

    def _summarise(self, rows):
        """Recompute the document's summary from all of its chunk rows."""
        document = self.document
        document.heads = _heads(rows)
        document.size = sum(row.size for row in rows)
        document.chunk_count = len(rows)
        document.etag = etag_of(row.digest for row in rows)

    def _result(self, changed, new_bytes=b"", new_changes=0):
        document = self.document
        return WriteResult(
            doc_id=document.doc_id,
            changed=changed,
            new_bytes=new_bytes,
            new_changes=new_changes,
            heads=list(document.heads),
            clock=dict(document.clock),
            size=document.size,
            chunk_count=document.chunk_count,
            etag=document.etag,
        )


WRITTEN_FIELDS = [
    "size",
    "chunk_count",
    "change_count",
    "clock",
    "heads",
    "etag",
    "next_position",
]
