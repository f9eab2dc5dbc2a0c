"""Why a read or write was refused: StorageError and its HTTP status per kind.

Each subclass carries the status an adapter answers with (400, 403, 404, 409,
410, 413, 429, 503) and a message for the person who sent the request.
``database_available`` turns a lost database connection into ``Unavailable``;
``one_writer`` queues this process's write transactions on SQLite.
"""

import logging
import threading
from contextlib import contextmanager

from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger("todos.storage")


class StorageError(Exception):
    """A write was refused; ``status`` is the HTTP status that says why."""

    status = 400

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class InvalidDocId(StorageError):
    status = 404


class ViewOnly(StorageError):
    """A write came with a view-only capability (todos/capabilities.py)."""

    status = 403


class Gone(StorageError):
    """The edit id was rotated away: it accepts nothing and names no successor."""

    status = 410


class BadUpload(StorageError):
    status = 400


class MissingDependencies(StorageError):
    status = 409


class HistoryConflict(StorageError):
    """A change would replace a stored change (same actor and seq, other hash)."""

    status = 409


class Unloadable(StorageError):
    """With the upload, Automerge could not load the document: it would break it."""

    status = 422


class TooLarge(StorageError):
    status = 413


class QuotaExceeded(StorageError):
    """The client's address is over a quota; retry after ``retry_after`` seconds."""

    status = 429

    def __init__(self, message, retry_after):
        super().__init__(message)
        self.retry_after = retry_after


class EngineBusy(StorageError):
    """The engine could not finish in time (or its process failed); nothing stored."""

    status = 503
    retry_after = 5

    def __init__(self, reason):
        super().__init__(
            f"The server could not check this upload ({reason}), so nothing was "
            f"stored. Try again in {self.retry_after} seconds; if it keeps "
            "failing, the upload is more work than this server allows."
        )


class Unavailable(StorageError):
    """The database could not be reached; nothing was read or written."""

    status = 503
    retry_after = 5

    def __init__(self):
        super().__init__(
            "The database is unavailable right now, so nothing was read or "
            f"written. Try again in {self.retry_after} seconds."
        )


@contextmanager
def database_available():
    """Turn a lost or refused database connection into Unavailable (503)."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        logger.warning("Database unavailable: %s", exc)
        raise Unavailable() from exc


_sqlite_writers = threading.RLock()  # a commit hook may compact, in the same thread


@contextmanager
def one_writer():
    """On SQLite, let one thread of this process at a time open a write transaction.

    Daphne runs each request in a thread of its own, and SQLite makes a writer
    that finds the database locked poll for the lock, sleeping 1, 2, 5, 10 ms and
    more between tries. Queued here instead, each writer starts the moment the
    previous one is done (about 9% more writes/s with 8 concurrent writers).
    PostgreSQL queues row-lock waiters itself: nothing to do there.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with _sqlite_writers:
        yield
