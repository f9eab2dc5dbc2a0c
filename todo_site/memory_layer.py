"""Channels' in-memory layer, with a group send that costs no task per member.

The embedded default (no ``REDIS_URL``) runs one process, where every push is a
``group_send`` to the document's sockets. Channels' ``InMemoryChannelLayer``
makes that send schedule one asyncio task per member, deep-copy the message for
each, and walk every queue and group of the process (its expiry sweep) on the
send and again on each member's receive, so a push to L sockets costs
O(L × all sockets) and several turns of the event loop before the first
member's queue holds it.

``InMemoryChannelLayer`` here puts the message on each member's queue at once,
in the order the sends are made (so pushes stay in commit order), copies it
once per member only as deep as a consumer could change it (the dict itself),
and sweeps expired messages at most once a second. What a member's queue holds,
what a full queue refuses (``ChannelFull``, skipped for groups as before) and
when a message or membership expires are Channels' own, to within that second.

Public API: ``InMemoryChannelLayer``, ``SWEEP_SECONDS``.
"""

import asyncio
import time

from channels import layers

__all__ = ["InMemoryChannelLayer", "SWEEP_SECONDS"]

# How often, at most, the expiry sweep walks every queue and group.
SWEEP_SECONDS = 1.0


class InMemoryChannelLayer(layers.InMemoryChannelLayer):
    """One process's channel layer: direct group sends, a throttled sweep."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._swept_at = 0.0

    def _clean_expired(self):
        """Sweep expired messages and memberships, at most every SWEEP_SECONDS."""
        now = time.monotonic()
        if now - self._swept_at < SWEEP_SECONDS:
            return
        self._swept_at = now
        super()._clean_expired()

    async def group_send(self, group, message):
        """Put ``message`` on every member's queue now, skipping full ones."""
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        expires = time.time() + self.expiry
        for channel in list(self.groups.get(group, ())):
            queue = self.channels.get(channel)
            if queue is None:
                capacity = self.get_capacity(channel)
                queue = self.channels[channel] = asyncio.Queue(maxsize=capacity)
            try:
                # Handlers read the message's values and never change them
                # (bytes, str, int, lists of str): a copy of the dict suffices.
                queue.put_nowait((expires, dict(message)))
            except asyncio.QueueFull:
                continue  # as Channels' group_send, which skips ChannelFull
