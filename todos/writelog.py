"""One log line per write, from every write path: ``log_write``.

Logged to ``todos.writes`` at INFO (WARNING when the server failed, 5xx) with
the document id, the upload's size in bytes, the outcome (``stored``,
``unchanged`` or ``refused``), the HTTP status (a WebSocket error frame carries
one too), the duration in milliseconds, the path (``http`` or ``websocket``) and
the client address that the limits count by. Never any document content. The
fields are in the message as ``key=value`` and, for ``TODOS_LOG_FORMAT=json``,
attributes of the record that the JSON formatter writes as keys.
"""

import logging
import time

__all__ = ["log_write", "outcome_of"]

logger = logging.getLogger("todos.writes")


def outcome_of(status, changed):
    """``stored`` or ``unchanged`` for a 200, else ``refused``."""
    if status != 200:
        return "refused"
    return "stored" if changed else "unchanged"


def log_write(doc_id, size, status, changed, started, via, client):
    """Log one write that began at ``time.perf_counter()`` value ``started``."""
    fields = {
        "doc_id": doc_id,
        "bytes": size,
        "outcome": outcome_of(status, changed),
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        "via": via,
        "client": client,
    }
    level = logging.WARNING if status >= 500 else logging.INFO
    message = "write " + " ".join(f"{key}={value}" for key, value in fields.items())
    logger.log(level, message, extra=fields)
