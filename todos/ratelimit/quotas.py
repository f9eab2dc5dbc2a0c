"""Per-address quotas: new documents per period, stored bytes per day.

- ``check_create(client, now=None)``: spend one of ``client``'s
  ``TODOS_CREATE_RATE_LIMIT`` creations, or raise QuotaExceeded (429).
- ``bytes_reserved(client, amount)``: a context manager holding ``amount`` of
  ``client``'s ``TODOS_MAX_CLIENT_BYTES`` for today, or raising QuotaExceeded;
  call ``keep()`` on what it yields once the bytes are stored, else they are
  given back when the block ends.

Both are off unless set, and a ``client`` of None (management commands) is never
limited. Creating a document is the first write to an id with nothing stored;
the bytes counted are those of uploads that stored something, whatever their
outcome would have been otherwise.
"""

import time
from contextlib import contextmanager

from django.conf import settings

from ..storage.errors import QuotaExceeded
from . import buckets
from .rates import parse_rate

__all__ = ["check_create", "bytes_reserved", "create_rate", "max_client_bytes"]


def create_rate():
    """The TODOS_CREATE_RATE_LIMIT setting as a Rate, or None."""
    text = getattr(settings, "TODOS_CREATE_RATE_LIMIT", "")
    return parse_rate(text, setting="TODOS_CREATE_RATE_LIMIT")


def max_client_bytes():
    """The TODOS_MAX_CLIENT_BYTES setting (0: no quota)."""
    return int(getattr(settings, "TODOS_MAX_CLIENT_BYTES", 0) or 0)


def check_create(client, now=None):
    """Count a new document for ``client``; raise QuotaExceeded if over the rate."""
    rate = create_rate()
    if rate is None or client is None:
        return
    wait = buckets.take("create", client, rate, now=now)
    if wait:
        retry = buckets.retry_after(wait)
        raise QuotaExceeded(
            f"Too many new lists from your address: this server accepts {rate} "
            f"(TODOS_CREATE_RATE_LIMIT). Retry in {retry} s, or keep editing a "
            "list that already exists; nothing of this upload was stored.",
            retry_after=retry,
        )


class Reservation:
    """Bytes held from a daily quota; given back unless ``keep()`` is called."""

    def __init__(self, client, amount, now):
        self.client, self.amount, self.now = client, amount, now
        self.kept = False

    def keep(self):
        """The bytes were stored: count them for good."""
        self.kept = True


@contextmanager
def bytes_reserved(client, amount, now=None):
    """Hold ``amount`` bytes of ``client``'s daily quota for the block (see module)."""
    limit = max_client_bytes()
    now = time.time() if now is None else now
    reservation = Reservation(client, amount, now)
    if not limit or client is None:
        yield reservation
        return
    if amount > limit:
        raise QuotaExceeded(
            f"This upload of {amount} bytes is larger than the {limit} bytes a day "
            "this server accepts from one address (TODOS_MAX_CLIENT_BYTES), so it "
            "would be refused on any day: send changes in smaller uploads "
            "(Automerge.saveIncremental). Nothing of it was stored.",
            retry_after=buckets.retry_after(buckets.seconds_until_tomorrow(now)),
        )
    added, total = buckets.add_to_daily_total("bytes", client, amount, limit, now)
    if not added:
        retry = buckets.retry_after(buckets.seconds_until_tomorrow(now))
        raise QuotaExceeded(
            f"Your address has stored {total} bytes today, and this upload of "
            f"{amount} bytes would pass the {limit} bytes a day this server "
            f"accepts from one address (TODOS_MAX_CLIENT_BYTES). The quota "
            f"starts again at midnight UTC, in {retry} s; nothing of this upload "
            "was stored.",
            retry_after=retry,
        )
    try:
        yield reservation
    finally:
        if not reservation.kept:
            buckets.subtract_from_daily_total("bytes", client, amount, now)
