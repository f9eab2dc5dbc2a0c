"""The Redis channel layer, made to survive a Redis restart without restarting Daphne.

channels_redis as configured by default fails in two ways here:

- redis-py 8 reads every reply with a 5 s socket timeout, and channels_redis
  blocks in ``BZPOPMIN`` for 5 s to receive: an idle consumer's receive raises
  "Timeout reading from ..." and its socket is torn down every few seconds
  (django/channels_redis#422). ``redis_hosts()`` gives the connections a read
  timeout longer than the blocking pop, a short connect timeout, TCP keepalive,
  health checks (a PING before reusing a connection idle for 10 s) and a few
  retries on a new connection, so a stale connection left from before a
  restart is replaced instead of failing the command, and a command sent while
  Redis restarts waits up to about a second for it.
- A restart (of a Redis without persistence, as the recipe runs it) loses every
  group membership and queued message, and a consumer whose receive hits the
  dropped connection dies. ``RedisChannelLayer`` here keeps each receive going
  through an outage, and watches Redis's ``run_id`` (once a second, one command
  per process): when Redis was unreachable or has restarted, it re-adds this
  process's channels to their groups and sends each of them
  ``{"type": "layer.reconnected"}``, so that their consumers can resend what
  pushes may have been lost (todos/consumers.py resends the stored document).

Public API: ``RedisChannelLayer``, ``redis_hosts``, ``RECONNECTED``.
"""

import asyncio
import logging
from collections import defaultdict

from channels_redis import core
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError

__all__ = ["RedisChannelLayer", "redis_hosts", "RECONNECTED"]

logger = logging.getLogger(__name__)

RECONNECTED = "layer.reconnected"
# How often each process asks Redis whether it restarted (INFO server).
WATCH_SECONDS = 1.0
# Waits between a failed receive's tries: doubling, at most 1 s.
FIRST_WAIT_SECONDS = 0.05
MAX_WAIT_SECONDS = 1.0
REDIS_ERRORS = (ConnectionError, TimeoutError, OSError)


def redis_hosts(url):
    """The ``hosts`` entry for ``url``: timeouts that fit the blocking receive."""
    return [
        {
            "address": url,
            # Longer than BZPOPMIN's own timeout, so an idle wait is never cut.
            "socket_timeout": core.RedisChannelLayer.brpop_timeout + 5,
            "socket_connect_timeout": 2,
            "socket_keepalive": True,
            # PING a connection that sat idle this long before using it.
            "health_check_interval": 10,
            # Up to 3 more tries on a new connection, 0.1 s to 1 s apart.
            "retry": Retry(ExponentialBackoff(cap=1.0, base=0.1), 3),
            "retry_on_error": [ConnectionError, TimeoutError],
        }
    ]


class RedisChannelLayer(core.RedisChannelLayer):
    """channels_redis's layer, whose receivers and groups outlive a Redis restart."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # group -> channels of this process in it, to put back after a restart.
        self.local_groups = defaultdict(set)
        self._watcher = None

    async def group_add(self, group, channel):
        await super().group_add(group, channel)
        self.local_groups[group].add(channel)
        self._watch_redis()

    async def group_discard(self, group, channel):
        channels = self.local_groups.get(group)
        if channels is not None:
            channels.discard(channel)
            if not channels:
                del self.local_groups[group]
        await super().group_discard(group, channel)

    async def receive(self, channel):
        """Receive on ``channel``; while Redis is unreachable, keep trying."""
        wait = FIRST_WAIT_SECONDS
        while True:
            try:
                return await super().receive(channel)
            except REDIS_ERRORS as exc:
                if wait == FIRST_WAIT_SECONDS:
                    logger.warning("Receive failed (%s); trying again", exc)
                await asyncio.sleep(wait)
                wait = min(wait * 2, MAX_WAIT_SECONDS)

    def _watch_redis(self):
        """Start the watcher on the running event loop (the server's), once."""
        watcher = self._watcher
        if watcher is None or watcher.done() or watcher.get_loop().is_closed():
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self):
        """Restore the groups whenever Redis was unreachable or restarted."""
        known, lost = None, False
        while True:
            try:
                run_ids = [
                    (await self.connection(index).info("server"))["run_id"]
                    for index in range(self.ring_size)
                ]
                if lost or (known is not None and run_ids != known):
                    await self._restore_groups()
                known, lost = run_ids, False
            except REDIS_ERRORS as exc:
                if not lost:
                    logger.warning("Redis unreachable (%s); waiting for it", exc)
                lost = True
            except Exception:
                logger.exception("Could not check on Redis")
            await asyncio.sleep(WATCH_SECONDS)

    async def _restore_groups(self):
        """Put this process's channels back in their groups; tell each of them."""
        memberships = [
            (group, channel)
            for group, channels in list(self.local_groups.items())
            for channel in list(channels)
        ]
        for group, channel in memberships:
            await super().group_add(group, channel)
        for channel in {channel for _, channel in memberships}:
            await self.send(channel, {"type": RECONNECTED})
        logger.warning(
            "Redis was unreachable or restarted: %d group memberships restored",
            len(memberships),
        )
