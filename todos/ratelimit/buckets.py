"""Atomic counters in Django's cache: token buckets and daily totals.

- ``take(name, client, rate, now=None) -> float``: spend one token of
  ``client``'s bucket ``name``; 0.0 if allowed, else the seconds until it is.
- ``add_to_daily_total(name, client, amount, limit, now=None) -> (ok, total)``:
  add ``amount`` to ``client``'s total for the current UTC day unless that would
  pass ``limit``; ``subtract_from_daily_total`` gives it back.

A token bucket is kept as the generic cell rate algorithm (GCRA): one number per
bucket, the "theoretical arrival time" ``tat``. A request at ``now`` is allowed
when ``tat - now <= period - period / count`` and then moves ``tat`` on by
``period / count``; this admits ``count`` at once and then one every
``period / count`` seconds, exactly a bucket of ``count`` tokens refilled at
``count / period`` per second.

Every update is atomic across processes when the cache is Redis (``CACHE_URL``):
the bucket is one Lua script, run by Redis as a single step on Redis's clock
(so servers whose clocks differ still share one bucket); daily totals use
``cache.add`` and ``cache.incr``, which Redis runs atomically. With the
local-memory cache each process counts alone (a lock makes it atomic within
the process), so N processes admit up to N times a limit. When Redis cannot be
reached, a limit lets the request through (and logs a warning) rather than
failing writes that the database could store.
"""

import logging
import math
import threading
import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisUnreachable
from redis.exceptions import TimeoutError as RedisTimeout

__all__ = [
    "take",
    "add_to_daily_total",
    "subtract_from_daily_total",
    "seconds_until_tomorrow",
    "retry_after",
]

DAY = 86400
logger = logging.getLogger("todos.ratelimit")
_lock = threading.Lock()

# KEYS[1]: the bucket; ARGV: now ("" for Redis's own clock, which every server
# process shares), interval (period / count), tolerance (period - interval), in
# seconds. Returns the wait in seconds as a string ("0" when allowed), because
# Redis truncates Lua numbers to integers.
GCRA_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local now = tonumber(ARGV[1])
if not now then
  local time = redis.call('TIME')
  now = tonumber(time[1]) + tonumber(time[2]) / 1000000
end
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then return tostring(tat - now - tolerance) end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX',
           math.ceil((new_tat - now) * 1000) + 1000)
return '0'
"""


def _key(name, client, *parts):
    return ":".join(["todos", name, *map(str, parts), client])


def take(name, client, rate, now=None):
    """Spend a token of ``client``'s bucket ``name``; 0.0, or the seconds to wait.

    ``now`` defaults to the cache's clock: Redis's, or this process's.
    """
    key = _key(name, client, rate)
    interval = rate.period / rate.count
    tolerance = rate.period - interval
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        try:
            return _take_in_redis(cache, key, now, interval, tolerance)
        except (RedisUnreachable, RedisTimeout) as exc:
            logger.warning("Rate limit not checked, Redis failed: %s", exc)
            return 0.0
    now = time.time() if now is None else now
    with _lock:
        tat = max(cache.get(key, now), now)
        if tat - now > tolerance:
            return tat - now - tolerance
        # Once tat has passed, the bucket is full again: let the key expire.
        cache.set(key, tat + interval, timeout=tat + interval - now + 1)
    return 0.0


def _take_in_redis(cache, key, now, interval, tolerance):
    full_key = cache.make_and_validate_key(key)
    # Django's RedisCache has no public way to run a script; its client does.
    client = cache._cache.get_client(full_key, write=True)
    script = client.register_script(GCRA_SCRIPT)
    now = "" if now is None else repr(now)
    wait = script(keys=[full_key], args=[now, repr(interval), repr(tolerance)])
    return float(wait)


def seconds_until_tomorrow(now=None):
    """Seconds from ``now`` to the next midnight UTC (when daily totals restart)."""
    now = time.time() if now is None else now
    return DAY - now % DAY


def _daily_key(name, client, now):
    return _key(name, client, int(now // DAY))


def add_to_daily_total(name, client, amount, limit, now=None):
    """Add ``amount`` to today's total unless it would pass ``limit``.

    Returns ``(True, total)`` when added, ``(False, total before)`` when not. The
    add is one atomic increment; one that overshoots is taken back at once, so
    concurrent writers never hold more than ``limit`` between them.
    """
    now = time.time() if now is None else now
    key = _daily_key(name, client, now)
    cache = caches["default"]
    try:
        cache.add(key, 0, timeout=int(seconds_until_tomorrow(now)) + 60)
        try:
            total = cache.incr(key, amount)
        except ValueError:  # expired between add and incr: a new day began
            cache.add(key, 0, timeout=DAY + 60)
            total = cache.incr(key, amount)
    except (RedisUnreachable, RedisTimeout) as exc:
        logger.warning("Quota not checked, Redis failed: %s", exc)
        return True, 0
    if total > limit:
        cache.decr(key, amount)
        return False, total - amount
    return True, total


def subtract_from_daily_total(name, client, amount, now=None):
    """Give back ``amount`` added today by ``add_to_daily_total``."""
    now = time.time() if now is None else now
    try:
        caches["default"].decr(_daily_key(name, client, now), amount)
    except ValueError:  # the day (and its total) is over
        pass
    except (RedisUnreachable, RedisTimeout) as exc:
        logger.warning("Quota not given back, Redis failed: %s", exc)


def retry_after(wait):
    """Whole seconds for a Retry-After header (at least 1)."""
    return max(1, math.ceil(wait))
