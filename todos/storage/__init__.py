"""The document store: parse, validate, lock, merge, store and notify, written once.

Every write path (HTTP views, the WebSocket consumer, management commands) calls
``write_document``; every read path calls ``read_document``. See DESIGN.md.

A write merges at the level of Automerge chunks: the incoming chunks are added to
the stored ones, a stored chunk that an incoming one fully contains is dropped, and
an incoming chunk the store already contains is skipped. Whether one set of changes
contains another is decided by vector clocks (actor -> highest seq), which is exact
for the dependency-closed sets that document chunks are. A change chunk is accepted
only when every change it depends on is stored or arrives in the same upload, so the
stored chunks always concatenate to a document that ``Automerge.load`` accepts.
"""

import functools
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .. import memory, reference
from ..models import Chunk, Document, KnownChange, validate_doc_id
from .errors import (
    BadUpload,
    InvalidDocId,
    MissingDependencies,
    StorageError,
    TooLarge,
    Unavailable,
    database_available,
)
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
from .limits import max_document_bytes, parse_upload
from .limits import upload_limits as upload_limits
from .objects import _ObjectChecks
from .results import StoredDocument, WriteResult
from .summary import _chunk_row, _heads, etag_of

__all__ = [
    "StorageError",
    "InvalidDocId",
    "BadUpload",
    "MissingDependencies",
    "TooLarge",
    "Unavailable",
    "WriteResult",
    "StoredDocument",
    "read_document",
    "write_document",
    "document_heads",
    "etag_of",
]

logger = logging.getLogger(__name__)


def check_doc_id(doc_id):
    """Raise InvalidDocId unless ``doc_id`` is 1-64 characters of [A-Za-z0-9_-]."""
    try:
        validate_doc_id(doc_id)
    except Exception as exc:
        raise InvalidDocId(
            f"Invalid document id {doc_id[:80]!r}: use 1 to 64 characters of "
            "A-Z, a-z, 0-9, '_' and '-'."
        ) from exc


def read_document(doc_id):
    """Return the stored document as a StoredDocument, or None if there is none.

    The bytes and the ETag come from one query, so they always agree.
    """
    check_doc_id(doc_id)
    with database_available():
        rows = list(
            Chunk.objects.filter(document_id=doc_id)
            .order_by("position")
            .values_list("data", "digest")
        )
    if not rows:
        return None
    return StoredDocument(
        data=b"".join(bytes(data) for data, _ in rows),
        etag=etag_of(digest for _, digest in rows),
    )


def write_document(doc_id, body, sender=None):
    """Merge the Automerge bytes ``body`` into document ``doc_id``; return WriteResult.

    Runs read-merge-write in one transaction holding the document's row lock, so
    concurrent writers in any number of processes serialise. Raises a StorageError
    subclass, with nothing written, when the upload is refused. After the commit,
    sockets open on the document (all but ``sender``, a channel name) get the new
    bytes.
    """
    check_doc_id(doc_id)
    try:
        return _write(doc_id, body, sender)
    finally:
        # The parse of a large upload is freed by now (it lived in _write's frame).
        memory.release_after(len(body))


def _write(doc_id, body, sender):
    incoming = parse_upload(body)
    check_with_reference(self_contained_part(incoming))  # before the lock: slow
    with database_available(), transaction.atomic():
        document = lock_document(doc_id)
        merge = _Merge(document, incoming)
        merge.plan()
        result = merge.apply()
        if result.changed:
            transaction.on_commit(lambda: notify_update(result, sender))
    return result


def group_name(doc_id):
    """The Channels group of the sockets open on ``doc_id``."""
    return f"doc_{doc_id}"


def notify_update(result, sender=None):
    """Tell every socket open on the document what a committed write stored.

    The message carries the write's new bytes (none when it only compacted the
    stored chunks) and what is stored now: heads, chunk count and size.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    message = {
        "type": "doc.updated",
        "data": result.new_bytes,
        "heads": result.heads,
        "chunks": result.chunk_count,
        "size": result.size,
        "sender": sender,
    }
    try:
        async_to_sync(layer.group_send)(group_name(result.doc_id), message)
    except Exception:
        # The write is committed; a socket that misses this push resyncs from
        # the heads in its next acknowledgement. Never fail the write over it.
        logger.exception("Could not push an update of %s", result.doc_id)


def lock_document(doc_id):
    """Fetch (creating if needed) and lock the document row for this transaction."""
    locked = Document.objects.select_for_update()
    document = locked.filter(doc_id=doc_id).first()
    if document is None:
        Document.objects.get_or_create(doc_id=doc_id)
        document = locked.get(doc_id=doc_id)
    return document


def self_contained_part(chunks):
    """The bytes of an upload that the independent reader can load on their own.

    A document chunk is complete by itself, and so are changes that depend only on
    each other. A change that extends stored history is checked by our own parser
    (framing, checksum, columns) and by the history rules of ``_Merge``.

    Data the independent reader is too old to read is left out: it would refuse
    valid uploads (see ``newer_than_reference``). Our own parser and the rules of
    ``_Merge`` still check it.
    """
    documents = [c for c in chunks if c.kind == "document"]
    changes = [c for c in chunks if c.kind == "change"]
    hashes = {c.hash for c in changes}
    if not (changes and all(d in hashes for c in changes for d in c.deps)):
        changes = []
    readable = [
        c
        for c in [*documents, *_Merge._topological(changes)]
        if not newer_than_reference(c)
    ]
    if len(readable) < len(documents) + len(changes):
        # A change chunk left out may be a dependency of another: check only the
        # documents, each complete by itself.
        readable = [c for c in documents if not newer_than_reference(c)]
    return b"".join(c.raw for c in readable)


def newer_than_reference(chunk):
    """Whether ``chunk`` uses what the ``automerge`` package (0.1.2) cannot read.

    That package predates marks (rich-text formatting, Automerge 2.1; it reports
    an unknown action 7) and refuses a document holding an empty change (one with
    no ops, ``Automerge.emptyChange``) as "changes out of order". Both are valid.
    """
    if chunk.has_marks:
        return True
    if chunk.kind == "change":
        return chunk.op_count == 0
    return chunk.has_empty_change


def check_with_reference(data):
    """Load ``data`` with the independent ``automerge`` package; BadUpload if not."""
    if not data:
        return
    error = reference.load_error(data)
    if error:
        raise BadUpload(
            f"Automerge could not load the upload ({error}). Send the unmodified "
            "output of Automerge.save() or Automerge.saveIncremental()."
        )


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


def document_heads(doc_id):
    """The heads (hex change hashes) of the stored document, sorted."""
    return list(Document.objects.get(doc_id=doc_id).heads)
