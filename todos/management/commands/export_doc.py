"""``manage.py export_doc <doc_id> [file]``: write the bytes GET would return."""

import sys

from django.core.management.base import BaseCommand, CommandError

from todos import storage


class Command(BaseCommand):
    help = (
        "Write a stored document's Automerge bytes (what GET /docs/<doc_id> "
        "returns) to a file, or to standard output when no file or '-' is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("doc_id", help="The document id.")
        parser.add_argument(
            "file", nargs="?", default="-", help="Where to write ('-': stdout)."
        )

    def handle(self, doc_id, file, **options):
        try:
            stored = storage.read_document(doc_id)
        except storage.StorageError as exc:
            raise CommandError(exc.message) from exc
        if stored is None:
            raise CommandError(f"No document {doc_id!r} is stored.")
        if file == "-":
            self.write_stdout(stored.data)
            return
        try:
            with open(file, "wb") as out:
                out.write(stored.data)
        except OSError as exc:
            raise CommandError(f"Could not write {file}: {exc.strerror}.") from exc
        self.stdout.write(
            f"Wrote {len(stored.data)} bytes of {doc_id} to {file} "
            f"(etag {stored.etag})."
        )

    def write_stdout(self, data):
        """Write bytes to the command's standard output, never to a terminal."""
        out = getattr(self.stdout, "_out", sys.stdout)
        binary = getattr(out, "buffer", None)
        if binary is None:
            raise CommandError("Standard output takes no bytes here: give a file name.")
        if out.isatty():
            raise CommandError(
                "Refusing to write binary Automerge data to a terminal: give a file "
                "name or redirect standard output."
            )
        out.flush()
        binary.write(data)
        binary.flush()
