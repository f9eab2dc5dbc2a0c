"""The in-memory channel layer (one process, no Redis), swept once a second.

Channels' ``InMemoryChannelLayer`` walks every queued message and every group
membership to drop expired ones on each ``receive`` and ``group_send``. Every
socket's consumer calls ``receive`` again after each message, so a push to 100
sockets walked the 300 memberships of those sockets 100 times: a third of the
process's CPU in the 100-listener push benchmark (docs/benchmarks.md). Expiry
is counted in seconds (messages: 60 s, groups: a day), so sweeping at most once
a second drops the same messages and memberships, at most a second later.

Public API: ``InMemoryChannelLayer``, ``SWEEP_SECONDS``.
"""

from time import monotonic

from channels import layers

__all__ = ["InMemoryChannelLayer", "SWEEP_SECONDS"]

SWEEP_SECONDS = 1.0


class InMemoryChannelLayer(layers.InMemoryChannelLayer):
    """Channels' in-memory layer, whose expiry sweep runs at most once a second."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.next_sweep = 0.0

    def _clean_expired(self):
        now = monotonic()
        if now < self.next_sweep:
            return
        self.next_sweep = now + SWEEP_SECONDS
        super()._clean_expired()
