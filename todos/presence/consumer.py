"""``PresenceMixin``: the presence part of the list consumers (todos/consumers.py).

On connect a socket joins ``presence_<doc_id>`` and announces ``join``; every
socket there answers the joiner directly with ``here``, so the joiner learns
who is there. Each socket announces ``here`` again every third of
``TODOS_PRESENCE_TIMEOUT`` from a random phase (a heartbeat, and whenever its
client starts or stops editing an item) and ``leave`` when it closes. A peer
silent for two heartbeats is dropped (its process died), checked every sixth of
the timeout, so it disappears within the timeout.

Only a client that has sent a presence frame is sent presence frames (the first
answer names who is here, and the timeout), so other clients see no new frames.
A client that speaks presence (the app does) sends its own heartbeat frames; if
it falls silent for two heartbeats (the tab vanished without closing its
socket), its socket announces ``leave`` for it, and ``here`` when it speaks
again. A client that never sends a presence frame is counted while its socket
is open. When the channel layer reconnects to Redis (which loses groups and
messages), the socket announces ``join`` again so everyone re-learns everyone.
"""

import asyncio
import logging
import random
import secrets
import time

from django.conf import settings

from . import frames
from .peers import Peers

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
EVENT = "presence.event"


def presence_group(doc_id):
    """The channel-layer group of the presence of ``doc_id``'s sockets."""
    return f"presence_{doc_id}"


def timeout_seconds():
    """``TODOS_PRESENCE_TIMEOUT``: how soon a vanished peer disappears (s)."""
    return float(getattr(settings, "TODOS_PRESENCE_TIMEOUT", DEFAULT_TIMEOUT))


class PresenceMixin:
    """Announce this socket on its list's presence group and track the others."""

    presence_read_only = False

    async def __call__(self, scope, receive, send):
        """Run the consumer; whatever ends it, its heartbeat ends too."""
        try:
            return await super().__call__(scope, receive, send)
        finally:
            if hasattr(self, "heartbeat"):
                self.heartbeat.cancel()

    async def presence_join(self, doc_id):
        """Join ``doc_id``'s presence, announce this socket, start the heartbeat."""
        self.presence_doc = doc_id
        self.peer_id = secrets.token_urlsafe(9)
        self.peers = Peers()
        self.editing = None
        # A viewer following a rotated list joins again: its client still speaks.
        self.client_speaks = getattr(self, "client_speaks", False)
        self.client_heard = time.monotonic()
        self.frame_bucket = getattr(self, "frame_bucket", frames.FrameBucket())
        self.timeout = timeout_seconds()
        await self.channel_layer.group_add(presence_group(doc_id), self.channel_name)
        self.announced = True
        await self.announce("join")
        await self.send_presence()
        self.heartbeat = asyncio.create_task(self.beat())

    async def presence_leave(self):
        """Say ``leave``, stop the heartbeat and leave the group."""
        if not hasattr(self, "heartbeat"):
            return
        self.heartbeat.cancel()
        if self.announced:
            await self.announce("leave")
        self.peers.clear()
        group = presence_group(self.presence_doc)
        await self.channel_layer.group_discard(group, self.channel_name)
        del self.heartbeat

    async def presence_receive(self, text):
        """A presence frame from the client: note it and announce any change."""
        wait = self.frame_bucket.take()
        try:
            if wait:
                raise frames.too_many(wait)
            editing = frames.parse_presence(text, self.presence_read_only)
        except frames.PresenceError as error:
            retry = round(wait, 1) if error.status == 429 else None
            await self.send(text_data=frames.error_frame(error, retry))
            return
        first = not self.client_speaks
        self.client_speaks = True
        self.client_heard = time.monotonic()
        if first:
            await self.send_presence()
        if editing != self.editing or not self.announced:
            self.editing = editing
            self.announced = True
            await self.announce("here")

    async def presence_rejoin(self):
        """The channel layer reconnected: announce ``join`` so all re-learn all."""
        if hasattr(self, "heartbeat") and self.announced:
            await self.announce("join")

    async def presence_event(self, event):
        """Another socket's announcement: update the table, tell the client."""
        if event["sender"] == self.channel_name or not hasattr(self, "heartbeat"):
            return
        kind, peer = event["kind"], event["peer"]
        if kind == "leave":
            changed = self.peers.left(peer)
        else:
            changed = self.peers.heard(peer, event["editing"])
        if kind == "join" and self.announced:
            await self.channel_layer.send(event["sender"], self.event("here"))
        if changed:
            await self.send_presence()

    async def announce(self, kind):
        """Send this socket's ``kind`` (join, here, leave) to the list's group."""
        group = presence_group(self.presence_doc)
        await self.channel_layer.group_send(group, self.event(kind))

    def event(self, kind):
        return {
            "type": EVENT,
            "kind": kind,
            "peer": self.peer_id,
            "editing": self.editing,
            "sender": self.channel_name,
        }

    async def send_presence(self):
        """Tell the client who else is here, if it speaks presence."""
        if not self.client_speaks:
            return
        frame = frames.others_frame(self.peers.others(), self.timeout)
        await self.send(text_data=frame)

    async def beat(self):
        """Every sixth of the timeout: expire, check the client; every third: here."""
        tick = self.timeout / 6
        silence = self.timeout * 2 / 3
        ticks = 0
        # A random phase, so that the heartbeats of sockets opened together
        # (a list's tabs after a restart) do not all fall in the same instant.
        await asyncio.sleep(random.uniform(0, tick))
        while True:
            await asyncio.sleep(tick)
            ticks += 1
            try:
                await self.beat_once(silence, heartbeat=ticks % 2 == 0)
            except Exception:
                logger.exception("Presence heartbeat failed; trying again")

    async def beat_once(self, silence, heartbeat):
        if self.peers.expire(silence):
            await self.send_presence()
        client_silent = time.monotonic() - self.client_heard > silence
        if self.announced and self.client_speaks and client_silent:
            await self.announce("leave")
            self.announced = False
        elif heartbeat and self.announced:
            await self.announce("here")
