"""How much one upload may hold, and parsing an upload within those limits.

``max_document_bytes`` is the configured size limit; ``upload_limits`` derives the
parser's limits from it and from the upload's size; ``parse_upload`` turns the
bytes of an upload into parsed chunks or refuses them (BadUpload, TooLarge), all
before the engine sees them.
"""

from django.conf import settings

from ..automerge_format import FormatError, LimitError, Limits, parse_chunks
from .errors import BadUpload, TooLarge


def max_document_bytes():
    """The configured size limit for uploads and stored documents."""
    return settings.TODOS_MAX_DOCUMENT_BYTES


def max_stored_bytes():
    """The largest a stored document may grow: the document limit and 1/16 more.

    The server stores the engine's save() of a list, which runs 1 to 2% larger
    than Automerge JS's save of the same list (1,999,119 against 1,976,008 bytes
    for tests/node/make_large_list.mjs): a list that a client saves within the
    limit must still be stored.
    """
    return max_document_bytes() + max_document_bytes() // 16


# The engine's work grows with the ops it applies (about 3 us each here), and a
# few compressed bytes can declare millions of them. An upload may declare
# OPS_FLOOR ops, or OPS_PER_BYTE per byte of the upload if that is more. A genuine
# 1.9 MB save of long mixed-script texts holds about 3 ops per byte (measured,
# tests/node/make_large_list.mjs), far below; a 3 KB upload inserting 3 million
# characters holds a thousand per byte.
OPS_FLOOR = 500_000
OPS_PER_BYTE = 64


def upload_limits(upload_bytes=None):
    """Parsing limits for one upload, derived from the document size limit.

    The pre-check's memory is bounded by the inflated bytes (one compressed
    column or change at a time). A genuine save of long mixed-script texts
    inflates about 5-6 times, so the limit is 16 times the document limit, and
    at least 64 MiB. With ``upload_bytes``, the ops an upload of that size may
    declare are bounded too (see OPS_PER_BYTE).
    """
    inflated = max(16 * max_document_bytes(), 64 * 1024 * 1024)
    limits = {}
    if upload_bytes is not None:
        limits["max_ops"] = max(OPS_FLOOR, OPS_PER_BYTE * upload_bytes)
    return Limits(
        max_chunks=10_000,
        max_changes=1_000_000,
        max_inflated_bytes=inflated,
        **limits,
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
        return parse_chunks(body, upload_limits(len(body)))
    except LimitError as exc:
        if "max_ops" not in str(exc):
            raise BadUpload(
                f"The body is not valid Automerge data: {exc}. Send the unmodified "
                "output of Automerge.save() or Automerge.saveIncremental()."
            ) from exc
        raise TooLarge(
            f"The upload asks for more work than this server does for "
            f"{len(body)} bytes: {exc}. Send the edit in smaller changes."
        ) from exc
    except FormatError as exc:
        raise BadUpload(
            f"The body is not valid Automerge data: {exc}. Send the unmodified "
            "output of Automerge.save() or Automerge.saveIncremental()."
        ) from exc
