"""``manage.py inspect_doc <doc_id>``: a document's items, size, chunks and clock."""

import json

from django.core.management.base import BaseCommand, CommandError

from todos import display, storage
from todos.models import Chunk, Document


class Command(BaseCommand):
    help = (
        "Print a stored document as JSON: its decoded title and items (or why it "
        "cannot be decoded), size, chunks, vector clock and heads."
    )

    def add_arguments(self, parser):
        parser.add_argument("doc_id", help="The document id.")

    def handle(self, doc_id, **options):
        try:
            found = display.read_snapshot(doc_id)
        except storage.StorageError as exc:
            raise CommandError(exc.message) from exc
        if found is None:
            raise CommandError(f"No document {doc_id!r} is stored.")
        stored, snapshot = found
        document = Document.objects.get(pk=doc_id)
        chunks = Chunk.objects.filter(document_id=doc_id).defer("data")
        report = {
            "doc_id": doc_id,
            "title": snapshot.title,
            "items": snapshot.items,
            "item_count": snapshot.item_count,
            "done_count": snapshot.done_count,
            "error": snapshot.error,
            "note": snapshot.note,
            "size": len(stored.data),
            "etag": stored.etag,
            "changes": display.change_total(document.clock),
            "clock": document.clock,
            "heads": storage.document_heads(doc_id),
            "last_change_at": _iso(snapshot.last_change_at),
            "updated_at": _iso(document.updated_at),
            "chunks": [
                {
                    "position": chunk.position,
                    "kind": chunk.kind,
                    "size": chunk.size,
                    "change_count": chunk.change_count,
                }
                for chunk in chunks
            ],
        }
        self.stdout.write(json.dumps(report, indent=2, ensure_ascii=False))


def _iso(moment):
    return moment.isoformat() if moment else None
