"""Atomic counters (todos/ratelimit/buckets.py), in the local cache and in Redis.

Each test gets a cache of its own (a new local-memory location, or a new key
prefix in Redis), and never calls cache.clear(): in Redis that flushes the whole
database, which other tests' channel layers use.
"""

import secrets
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import override_settings

from todos.ratelimit import buckets
from todos.ratelimit.rates import Rate

DAY = 86400


@pytest.fixture(params=["locmem", "redis"])
def backend(request, settings):
    """The default cache: local memory, or Redis (skipped, or failed, without it)."""
    if request.param == "locmem":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": f"test-{secrets.token_hex(6)}",
            }
        }
    else:
        url = request.getfixturevalue("redis_url")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": f"test-{secrets.token_hex(6)}",
            }
        }
    return request.param


def test_bucket_allows_count_at_once_then_one_per_interval(backend):
    rate = Rate(3, 60)

    assert [buckets.take("w", "a", rate, now=1000.0) for _ in range(3)] == [0, 0, 0]
    assert buckets.take("w", "a", rate, now=1000.0) == pytest.approx(20.0)
    assert buckets.take("w", "a", rate, now=1010.0) == pytest.approx(10.0)
    assert buckets.take("w", "a", rate, now=1020.0) == 0
    assert buckets.take("w", "a", rate, now=1020.0) == pytest.approx(20.0)


def test_buckets_are_separate_per_name_and_client(backend):
    rate = Rate(1, 3600)

    assert buckets.take("w", "a", rate, now=0.0) == 0
    assert buckets.take("w", "a", rate, now=0.0) > 0
    assert buckets.take("w", "b", rate, now=0.0) == 0
    assert buckets.take("create", "a", rate, now=0.0) == 0


def test_concurrent_takes_spend_each_token_once(backend):
    rate = Rate(50, 3600)
    client = secrets.token_hex(4)

    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(lambda _: buckets.take("w", client, rate), range(200)))

    assert sum(1 for wait in waits if wait == 0) == 50


def test_daily_total_stops_at_the_limit_and_gives_back(backend):
    now = 10 * DAY + 5.0

    assert buckets.add_to_daily_total("b", "a", 60, 100, now) == (True, 60)
    assert buckets.add_to_daily_total("b", "a", 50, 100, now) == (False, 60)
    assert buckets.add_to_daily_total("b", "a", 40, 100, now) == (True, 100)
    buckets.subtract_from_daily_total("b", "a", 40, now)
    assert buckets.add_to_daily_total("b", "a", 30, 100, now) == (True, 90)
    # The next UTC day starts from nothing.
    assert buckets.add_to_daily_total("b", "a", 100, 100, now + DAY) == (True, 100)


def test_concurrent_daily_totals_never_pass_the_limit(backend):
    client = secrets.token_hex(4)

    with ThreadPoolExecutor(8) as pool:
        added = list(
            pool.map(
                lambda _: buckets.add_to_daily_total("b", client, 7, 100)[0],
                range(100),
            )
        )

    assert added.count(True) == 14  # 14 * 7 = 98; a 15th would make 105


def test_seconds_until_tomorrow_counts_to_midnight_utc():
    assert buckets.seconds_until_tomorrow(3 * DAY + 1.5) == DAY - 1.5


def test_an_unreachable_redis_lets_requests_through(caplog):
    unreachable = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }

    with override_settings(CACHES=unreachable):
        assert buckets.take("w", "a", Rate(1, 60)) == 0
        assert buckets.add_to_daily_total("b", "a", 10, 5) == (True, 0)
    assert "Redis failed" in caplog.text


def test_redis_buckets_keep_time_by_the_redis_clock(settings, redis_url):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"test-{secrets.token_hex(6)}",
        }
    }
    rate = Rate(2, 60)

    waits = [buckets.take("w", "a", rate) for _ in range(3)]

    assert waits[:2] == [0, 0]
    assert 29 < waits[2] <= 30  # measured from the Redis server's TIME


def test_a_stalled_redis_lets_requests_through_after_a_timeout(caplog):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        stalled = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{port}/0",
            }
        }
        started = time.monotonic()
        with override_settings(CACHES=stalled):
            assert buckets.take("w", "a", Rate(1, 60)) == 0

    assert time.monotonic() - started < buckets.REDIS_TIMEOUT + 2
    assert "Redis failed" in caplog.text
