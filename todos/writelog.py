"""One log line per write, from every write path: ``log_write``.

Logged to ``todos.writes`` at INFO (WARNING when the server failed, 5xx) with
the document id, the upload's size in bytes, the outcome (``stored``,
``unchanged`` or ``refused``), the HTTP status (a WebSocket error frame carries
one too), the duration in milliseconds, the path (``http`` or ``websocket``) and
the client address that the limits count by (a body over
``TODOS_MAX_DOCUMENT_BYTES``, refused before Django reads it, is logged by
``log_refused_body`` with duration 0). Never any document content. Each write
is counted in the metrics too (``todo_site.metrics.observe_write``). The
fields are in the message as ``key=value`` and, for ``TODOS_LOG_FORMAT=json``,
attributes of the record that the JSON formatter writes as keys.
"""

import logging
import re
import time

from todo_site import metrics

__all__ = ["log_write", "log_refused_body", "outcome_of"]

logger = logging.getLogger("todos.writes")


def outcome_of(status, changed):
    """``stored`` or ``unchanged`` for a 200, else ``refused``."""
    if status != 200:
        return "refused"
    return "stored" if changed else "unchanged"


def log_write(doc_id, size, status, changed, started, via, client):
    """Log one write that began at ``time.perf_counter()`` value ``started``."""
    seconds = time.perf_counter() - started
    outcome = outcome_of(status, changed)
    metrics.observe_write(via, outcome, status, seconds, size)
    fields = {
        "doc_id": doc_id,
        "bytes": size,
        "outcome": outcome,
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
        "via": via,
        "client": client,
    }
    level = logging.WARNING if status >= 500 else logging.INFO
    message = "write " + " ".join(f"{key}={value}" for key, value in fields.items())
    logger.log(level, message, extra=fields)


def log_refused_body(method, path, size, peer, forwarded_for):
    """Log a write refused (413) before Django saw it: a body over the limit.

    ``todo_site/body_limit.py`` answers those before any view runs; only a PUT or
    POST to ``/docs/<id>`` is a write. ``size`` is the declared or received
    length; the duration is not known there and is logged as 0.
    """
    from .models import DOC_ID_PATTERN
    from .ratelimit import address

    if method not in ("PUT", "POST"):
        return
    match = re.fullmatch(rf"/docs/({DOC_ID_PATTERN})/?", path.split("?", 1)[0])
    if match is None:
        return
    client = address.client_address(peer, forwarded_for, address.trusted_proxies())
    log_write(match[1], size, 413, False, time.perf_counter(), "http", client)
