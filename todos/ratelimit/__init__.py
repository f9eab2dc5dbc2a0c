"""A per-client rate limit on writes: one token bucket per client address.

Public API:

- ``parse_rate(text) -> Rate | None``: ``"300/s"``, ``"1000/m"``, ``"50/h"``,
  ``"2000/d"``; empty means no limit.
- ``configured_rate() -> Rate | None``: the ``TODOS_WRITE_RATE_LIMIT`` setting.
- ``take(client, rate, now=None) -> float``: spend one token of ``client``'s
  bucket; 0.0 if the write may go ahead, else the seconds until it may.
- ``refuse_write(request) -> JsonResponse | None``: for the HTTP write view; a 429
  with ``Retry-After`` when the request's address is over the limit.
- ``refuse_frame(scope) -> str | None`` (async): for the WebSocket consumer; the
  text of an error frame with status 429 when the socket's address is over it.

Each address may make ``count`` writes at once and then one every
``period / count`` seconds (a token bucket holding ``count`` tokens, refilled at
``count / period`` per second). The limit is off unless ``TODOS_WRITE_RATE_LIMIT``
is set, so tests and benchmarks that burst from one address are not throttled.

Buckets live in Django's default cache. With the default (local-memory) cache
each server process keeps its own buckets, so N processes admit up to N times the
rate; point ``CACHES`` at a shared cache for one limit across processes (updates
are then approximate: two processes may both spend the same token). The address
is ``REMOTE_ADDR`` or the ASGI scope's client: behind a reverse proxy, run Daphne
with ``--proxy-headers`` so that it is the browser's address, not the proxy's.
"""

import json
import math
import threading
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse

from .rates import Rate, parse_rate

__all__ = [
    "Rate",
    "parse_rate",
    "configured_rate",
    "take",
    "refuse_write",
    "refuse_frame",
]

STATUS = 429
_lock = threading.Lock()


def configured_rate():
    """The write rate limit from settings, or None when writes are not limited."""
    return parse_rate(getattr(settings, "TODOS_WRITE_RATE_LIMIT", ""))


def take(client, rate, now=None):
    """Spend a token from ``client``'s bucket; return 0.0, or seconds to wait."""
    now = time.time() if now is None else now
    key = f"todos:write-rate:{rate}:{client}"
    refill = rate.count / rate.period  # tokens per second
    with _lock:
        tokens, updated = cache.get(key) or (float(rate.count), now)
        tokens = min(float(rate.count), tokens + max(0.0, now - updated) * refill)
        if tokens >= 1.0:
            wait, tokens = 0.0, tokens - 1.0
        else:
            wait = (1.0 - tokens) / refill
        # A bucket left alone for a whole period is full again: let it expire.
        cache.set(key, (tokens, now), timeout=rate.period + 1)
    return wait


def _message(rate, wait):
    return (
        f"Too many writes from your address: this server accepts {rate} "
        f"(TODOS_WRITE_RATE_LIMIT). Retry in {retry_after(wait)} s; nothing of this "
        "upload was stored."
    )


def retry_after(wait):
    """Whole seconds for a Retry-After header (at least 1)."""
    return max(1, math.ceil(wait))


def refuse_write(request):
    """A 429 JsonResponse if this request's address is over the limit, else None."""
    rate = configured_rate()
    if rate is None:
        return None
    wait = take(request.META.get("REMOTE_ADDR") or "unknown", rate)
    if not wait:
        return None
    response = JsonResponse({"error": _message(rate, wait)}, status=STATUS)
    response["Retry-After"] = str(retry_after(wait))
    return response


async def refuse_frame(scope):
    """The text of a 429 error frame if this socket's address is over, else None."""
    rate = configured_rate()
    if rate is None:
        return None
    client = (scope.get("client") or ["unknown"])[0]
    wait = await sync_to_async(take, thread_sensitive=False)(client, rate)
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
