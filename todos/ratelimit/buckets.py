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
(so servers whose clocks differ still share one bucket), and so is a daily
total's add (``INCRBY``, taken back with ``DECRBY`` if it passes the limit).
With the local-memory cache each process counts alone (a lock makes it atomic
within the process; a daily total is ``cache.add`` + ``cache.incr``), so N
processes admit up to N times a limit. When Redis cannot be reached, a limit
lets the request through (and logs a warning) rather than failing writes that
the database could store.
"""

import logging
import math
import threading
import time
from functools import lru_cache

import redis
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
# Seconds a limit waits for Redis before letting the write through: a stalled
# Redis must not hold writes (a creation is checked under the document's lock).
REDIS_TIMEOUT = 2
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


# KEYS[1]: a daily total; ARGV: amount, limit, seconds to keep the key. The same
# as add_to_daily_total's cache.add + cache.incr (+ decr), in one round trip.
ADD_SCRIPT = """
local amount = tonumber(ARGV[1])
local total = redis.call('INCRBY', KEYS[1], amount)
if total == amount then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
if total > tonumber(ARGV[2]) then
  redis.call('DECRBY', KEYS[1], amount)
  return {0, total - amount}
end
return {1, total}
"""

SUBTRACT_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('DECRBY', KEYS[1], ARGV[1])
end
return 0
"""


@lru_cache(maxsize=8)
def _redis_client(url):
    """One redis-py client (and connection pool) per Redis URL, for the process.

    Django makes a new RedisCache, with new connections, for every request
    under ASGI (its caches are context-local); reusing one pool saves a TCP
    connection per write.
    """
    return redis.Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
    )


def _redis(cache, key):
    """The redis-py client and the full key for ``key`` in Django's RedisCache.

    Django's RedisCache has no public way to run a script. Its first server is
    the one it writes to.
    """
    return _redis_client(cache._servers[0]), cache.make_and_validate_key(key)


def _take_in_redis(cache, key, now, interval, tolerance):
    client, full_key = _redis(cache, key)
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
    add is one atomic increment (``cache.add`` + ``cache.incr``, or one script
    in Redis); one that overshoots is taken back at once, so concurrent writers
    never hold more than ``limit`` between them.
    """
    now = time.time() if now is None else now
    key = _daily_key(name, client, now)
    keep = int(seconds_until_tomorrow(now)) + 60
    cache = caches["default"]
    try:
        if isinstance(cache, RedisCache):
            client, full_key = _redis(cache, key)
            script = client.register_script(ADD_SCRIPT)
            added, total = script(keys=[full_key], args=[amount, limit, keep])
            return bool(added), total
        cache.add(key, 0, timeout=keep)
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
    key = _daily_key(name, client, now)
    cache = caches["default"]
    try:
        if isinstance(cache, RedisCache):
            client, full_key = _redis(cache, key)
            # Only where the key still exists: a total that expired stays gone.
            client.register_script(SUBTRACT_SCRIPT)(keys=[full_key], args=[amount])
        else:
            cache.decr(key, amount)
    except ValueError:  # the day (and its total) is over
        pass
    except (RedisUnreachable, RedisTimeout) as exc:
        logger.warning("Quota not given back, Redis failed: %s", exc)


def retry_after(wait):
    """Whole seconds for a Retry-After header (at least 1)."""
    return max(1, math.ceil(wait))
