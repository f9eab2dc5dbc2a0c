"""Per-client limits: a write rate, new documents per period, bytes per day.

Public API:

- ``parse_rate(text) -> Rate | None``: ``"300/s"``, ``"1000/m"``, ``"50/h"``,
  ``"2000/d"``; empty means no limit.
- ``configured_rate() -> Rate | None``: the ``TODOS_WRITE_RATE_LIMIT`` setting.
- ``take(client, rate, now=None) -> float``: spend one token of ``client``'s
  write bucket; 0.0 if the write may go ahead, else the seconds until it may.
- ``refuse_write(request) -> JsonResponse | None``: for the HTTP write view; a 429
  with ``Retry-After`` when the request's address is over the limit.
- ``refuse_frame(scope) -> str | None`` (async): for the WebSocket consumer; the
  text of an error frame with status 429 when the socket's address is over it.
- ``address_of_request``, ``address_of_scope``: the client address every limit
  counts by (``address``: ``X-Forwarded-For`` only from ``TODOS_TRUSTED_PROXIES``).

The quotas on new documents (``TODOS_CREATE_RATE_LIMIT``) and on bytes stored per
day (``TODOS_MAX_CLIENT_BYTES``) are in ``quotas``, called by the storage service,
which alone knows whether a write creates a document or stores anything.

Each address may make ``count`` writes at once and then one every
``period / count`` seconds (a token bucket holding ``count`` tokens, refilled at
``count / period`` per second). Every limit is off unless set, so tests and
benchmarks that burst from one address are not throttled.

Counters live in Django's default cache (``buckets``): with ``CACHE_URL`` set,
Redis, where every update is atomic and all processes share one limit; without
it the local-memory cache, so each process counts alone and N processes admit up
to N times a limit.
"""

import json

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import JsonResponse

from . import address, buckets
from .address import address_of_request, address_of_scope, client_address
from .buckets import retry_after
from .rates import Rate, parse_rate

__all__ = [
    "Rate",
    "parse_rate",
    "configured_rate",
    "check_settings",
    "take",
    "retry_after",
    "refuse_write",
    "refuse_frame",
    "client_address",
    "address_of_request",
    "address_of_scope",
]

STATUS = 429


def configured_rate():
    """The write rate limit from settings, or None when writes are not limited."""
    return parse_rate(getattr(settings, "TODOS_WRITE_RATE_LIMIT", ""))


def check_settings():
    """Parse every limit's setting; raise ImproperlyConfigured naming a bad one."""
    from . import quotas

    configured_rate()
    quotas.create_rate()
    quotas.max_client_bytes()
    address.trusted_proxies()


def take(client, rate, now=None):
    """Spend a token from ``client``'s write bucket; return 0.0, or seconds to wait."""
    return buckets.take("write-rate", client, rate, now=now)


def _message(rate, wait):
    return (
        f"Too many writes from your address: this server accepts {rate} "
        f"(TODOS_WRITE_RATE_LIMIT). Retry in {retry_after(wait)} s; nothing of this "
        "upload was stored."
    )


def refuse_write(request, client=None):
    """A 429 JsonResponse if this request's address is over the limit, else None.

    ``client`` is the request's address, if the caller has it already.
    """
    rate = configured_rate()
    if rate is None:
        return None
    wait = take(client or address_of_request(request), rate)
    if not wait:
        return None
    response = JsonResponse({"error": _message(rate, wait)}, status=STATUS)
    response["Retry-After"] = str(retry_after(wait))
    return response


async def refuse_frame(scope, client=None):
    """The text of a 429 error frame if this socket's address is over, else None.

    ``client`` is the socket's address, if the caller has it already.
    """
    rate = configured_rate()
    if rate is None:
        return None
    wait = await sync_to_async(take, thread_sensitive=False)(
        client or address_of_scope(scope), rate
    )
    if not wait:
        return None
    return json.dumps(
        {
            "type": "error",
            "status": STATUS,
            "error": _message(rate, wait),
            "retry_after": retry_after(wait),
        }
    )
