"""How much one upload may hold, and parsing an upload within those limits.

``max_document_bytes`` is the configured size limit; ``upload_limits`` derives the
parser's limits from it; ``parse_upload`` turns the bytes of an upload into parsed
chunks or refuses them (BadUpload, TooLarge).
"""

from django.conf import settings

from ..automerge_format import FormatError, Limits, parse_chunks
from .errors import BadUpload, TooLarge


def max_document_bytes():
    """The configured size limit for uploads and stored documents."""
    return settings.TODOS_MAX_DOCUMENT_BYTES


RUN_BYTES = 64  # memory the reader spends on each run it keeps (a tuple in a list)


def upload_limits():
    """Parsing limits for one upload, derived from the document size limit.

    The reader's memory is bounded by the inflated bytes plus the runs it keeps,
    so both limits are set to spend about the same: four times the document limit.
    """
    inflated = max(4 * max_document_bytes(), 1024 * 1024)
    return Limits(
        max_chunks=10_000,
        max_changes=1_000_000,
        max_inflated_bytes=inflated,
        max_runs=inflated // RUN_BYTES,
    )


def parse_upload(body):
    """Parse and validate an upload; raise BadUpload or TooLarge if it is refused."""
    if len(body) > max_document_bytes():
        raise TooLarge(
            f"The upload is {len(body)} bytes; this server accepts at most "
            f"{max_document_bytes()} bytes per document (TODOS_MAX_DOCUMENT_BYTES)."
        )
    if not body:
        raise BadUpload(
            "The request body is empty: send Automerge bytes, such as the output "
            "of Automerge.save(doc) or Automerge.saveIncremental(doc)."
        )
    try:
        return parse_chunks(body, upload_limits())
    except FormatError as exc:
        raise BadUpload(
            f"The body is not valid Automerge data: {exc}. Send the unmodified "
            "output of Automerge.save() or Automerge.saveIncremental()."
        ) from exc
