"""``PresenceMixin``: the presence part of the list consumers (todos/consumers.py).

A socket whose client speaks presence is in the group ``presence_<doc_id>``;
the others (scripts, the tutorial's clients, a tab before its first presence
frame) are in ``quiet_<doc_id>``. Every announcement goes to ``presence_``, and
a speaker's ``join`` to ``quiet_`` as well: every socket answers a speaking
joiner with ``here``, so it learns who is there, while a quiet socket is told
nothing else, since its client would not read it. The process's push hub
(``todos/push_hub.py``) is the groups' member for all of its sockets: an
announcement crosses the channel layer once per process, the hub hands it to
each socket (``presence_heard``), and a process's answers to a ``join`` reach
the joiner as one ``presence.roster`` message.

On connect a socket announces ``join``, and again when its client first speaks
(moving it to ``presence_``). It announces ``here`` whenever its client starts or
stops editing an item, and ``leave`` when it closes. Every third of
``TODOS_PRESENCE_TIMEOUT`` the hub sends the ``here`` of all its sockets on the
list in one message (a heartbeat; ``heartbeat_event``). A peer silent for two
heartbeats is dropped (its process died), checked every sixth of the timeout, so
it disappears within the timeout.

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

from ..push_hub import PRESENCE, hub_of
from . import frames
from .peers import Peers

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0


def presence_group(doc_id):
    """The group of ``doc_id``'s sockets whose clients speak presence."""
    return f"presence_{doc_id}"


def quiet_group(doc_id):
    """The group of ``doc_id``'s sockets whose clients do not (yet) speak presence."""
    return f"quiet_{doc_id}"


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
                hub = hub_of(self.channel_layer)
                hub.stop_beating(presence_group(self.presence_doc), self)

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
        hub = hub_of(self.channel_layer)
        await hub.register(self.own_group(), self)
        self.announced = True
        await self.announce("join")
        await self.send_presence()
        self.heartbeat = asyncio.create_task(self.beat())
        hub.beat(presence_group(doc_id), self, period=self.timeout / 3)

    async def presence_leave(self):
        """Say ``leave``, stop the heartbeat and leave the group."""
        if not hasattr(self, "heartbeat"):
            return
        self.heartbeat.cancel()
        hub = hub_of(self.channel_layer)
        hub.stop_beating(presence_group(self.presence_doc), self)
        if self.announced:
            await self.announce("leave")
        self.peers.clear()
        await hub.unregister(self.own_group(), self)
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
        self.client_heard = time.monotonic()
        changed = editing != self.editing or not self.announced
        self.editing = editing
        self.announced = True
        if not self.client_speaks:
            await self.start_speaking()
        elif changed:
            await self.announce("here")

    async def start_speaking(self):
        """The client speaks presence: join the speakers and ask who is here."""
        hub = hub_of(self.channel_layer)
        # Join before leaving, so that no speaker's join is missed in between.
        await hub.register(presence_group(self.presence_doc), self)
        await hub.unregister(quiet_group(self.presence_doc), self)
        self.client_speaks = True
        await self.send_presence()
        await self.announce("join")

    async def presence_rejoin(self):
        """The channel layer reconnected: announce ``join`` so all re-learn all."""
        if hasattr(self, "heartbeat") and self.announced:
            await self.announce("join")

    def presence_answer(self, event):
        """This socket's ``here`` for another socket's ``join``, or None (the
        hub never asks a socket about its own announcement)."""
        return self.heartbeat_event() if event["kind"] == "join" else None

    def presence_note(self, event):
        """Note another socket's announcement; True if the client's view changed.

        A quiet socket keeps no table: its client would not read it.
        """
        if (
            event["sender"] == self.channel_name
            or not hasattr(self, "heartbeat")
            or not self.client_speaks
        ):
            return False
        if event["kind"] == "leave":
            return self.peers.left(event["peer"])
        return self.peers.heard(event["peer"], event["editing"])

    async def presence_heard(self, event):
        """An announcement on this socket's group (from the process's hub)."""
        if self.presence_note(event):
            await self.send_presence()

    async def presence_event(self, event):
        """An announcement sent to this socket alone: a process of the version
        before the hub answering its ``join`` (during a rolling upgrade)."""
        await self.presence_heard(event)

    async def presence_roster(self, message):
        """Several announcements of one process's sockets (``events``): their
        answers to this socket's ``join``, or their heartbeats."""
        changed = False
        for event in message["events"]:
            changed = self.presence_note(event) or changed
        if changed:
            await self.send_presence()

    async def announce(self, kind):
        """Send this socket's ``kind`` (join, here, leave) to the list's speakers.

        A speaker's ``join`` goes to the quiet sockets too, so that they answer.
        """
        event = self.event(kind)
        groups = [presence_group(self.presence_doc)]
        if kind == "join" and self.client_speaks:
            groups.append(quiet_group(self.presence_doc))
        for group in groups:
            await self.channel_layer.group_send(group, {**event, "group": group})

    def own_group(self):
        """The presence group this socket is in: speakers' or quiet sockets'."""
        if self.client_speaks:
            return presence_group(self.presence_doc)
        return quiet_group(self.presence_doc)

    def heartbeat_event(self):
        """This socket's ``here`` for its process's heartbeat, or None if it has
        nothing to announce (its client fell silent, or it has left)."""
        if hasattr(self, "heartbeat") and self.announced:
            return self.event("here")
        return None

    def event(self, kind):
        return {
            "type": PRESENCE,
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
        """Every sixth of the timeout: drop silent peers, check the client."""
        tick = self.timeout / 6
        silence = self.timeout * 2 / 3
        # A random phase, so that the checks of sockets opened together (a
        # list's tabs after a restart) do not all fall in the same instant.
        await asyncio.sleep(random.uniform(0, tick))
        while True:
            await asyncio.sleep(tick)
            try:
                await self.beat_once(silence)
            except Exception:
                logger.exception("Presence check failed; trying again")

    async def beat_once(self, silence):
        if self.peers.expire(silence):
            await self.send_presence()
        client_silent = time.monotonic() - self.client_heard > silence
        if self.announced and self.client_speaks and client_silent:
            await self.announce("leave")
            self.announced = False
