"""``manage.py import_doc <doc_id> <file>``: merge a file into a stored document."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from todos import storage


class Command(BaseCommand):
    help = (
        "Merge an Automerge file (Automerge.save() or saveIncremental() output) "
        "into a stored document, through the same service and checks as uploads; "
        "nothing stored is ever replaced. Prints the result as JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("doc_id", help="The document id.")
        parser.add_argument("file", help="The Automerge file ('-': stdin).")

    def handle(self, doc_id, file, **options):
        body = self.read_file(file)
        try:
            result = storage.write_document(doc_id, body)
        except storage.StorageError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(json.dumps(result.as_json(), indent=2))

    def read_file(self, file):
        """The bytes of ``file``, or of standard input for '-'."""
        if file == "-":
            return sys.stdin.buffer.read()
        try:
            with open(file, "rb") as source:
                return source.read()
        except OSError as exc:
            raise CommandError(f"Could not read {file}: {exc.strerror}.") from exc
