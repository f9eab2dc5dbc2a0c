"""The push hub: one channel per process carries a document's pushes to its sockets.

A committed write is pushed with one ``group_send`` to the document's group
(``todos.storage.notify_update``). When every socket was a member of that group,
a push to 100 sockets of one process put 100 messages through the channel layer
(100 Redis commands and replies with channels_redis), woke 100 consumers one
after another and encoded the same text frame 100 times. Here each process has
one hub: its channel is the group's member for all of the process's sockets on
that document, it receives each push once, encodes the text frame once, and
writes the frames to its sockets itself: first the new bytes to every socket,
then the text frame to every socket, so the last socket's bytes do not wait
behind everyone's text frame.

- ``register(group, consumer)`` adds a socket to a group. The first socket
  of a group makes the hub join it; ``register`` returns only after that, so a
  consumer that registers before it reads the stored document misses no push
  committed after the read.
- ``unregister(group, consumer)`` takes it out; the last one out leaves the
  group; ``forget(consumer)`` takes it out of all of them. Joins and leaves are
  made one at a time, so a leave cannot undo a join.
- A push is not sent to the socket that made the write (``sender``), and a
  failing socket does not keep the others from theirs.
- Memberships expire in the channel layer (a day); the hub adds them again
  every hour while it has sockets on the document.

The hub's sockets are ``DocumentConsumer``s (``todos/consumers.py``), which
take each frame with ``receive_push``: a socket still reading the stored
document holds its pushes until that is sent.

Presence announcements (``todos/presence/consumer.py``) go through the hub too:
it is the member of a list's ``presence_`` and ``quiet_`` groups for the
process's sockets, so an announcement crosses the channel layer once per
process, not once per socket, and each socket notes it (``presence_heard``).
The sockets that answer a ``join`` (``presence_answer``) answer in one
``presence.roster`` message to the joiner, not one message each: with
channels_redis a process's sockets share one inbound queue of 1,000 messages,
and 60 sockets joining at once on two processes filled it with answers, which
closed sockets. Heartbeats are sent by the hub as well: ``beat(group, consumer,
period)`` adds a socket to the group's heartbeat, one message every ``period``
with each socket's ``heartbeat_event()`` (up to ``HEARTBEAT_BATCH`` a message),
so a list's heartbeats cost one message per process, not one per socket.
``/automerge-repo`` peers stay members of the group themselves: each needs its
own sync message.

Public API: ``hub_of``, ``PushHub``.
"""

import asyncio
import json
import logging
import random

from todo_site import metrics

from .storage import group_name

__all__ = ["hub_of", "PushHub"]

logger = logging.getLogger(__name__)

# How often the hub renews its group memberships (they expire after a day).
REFRESH_SECONDS = 3600
# How long the hub waits after its channel layer failed to receive.
RETRY_SECONDS = 1.0
# The type of a socket's presence announcement (todos/presence/consumer.py).
PRESENCE = "presence.event"
# At most this many sockets' heartbeats go in one message.
HEARTBEAT_BATCH = 100


def hub_of(layer):
    """The hub of ``layer`` on the running event loop, started on first use."""
    loop = asyncio.get_running_loop()
    hub = getattr(layer, "todos_push_hub", None)
    if hub is None or hub.loop is not loop:
        hub = layer.todos_push_hub = PushHub(layer, loop)
    return hub


class PushHub:
    """One channel that receives a document's pushes for all of a process's sockets."""

    def __init__(self, layer, loop):
        self.layer = layer
        self.loop = loop
        self.channel = None
        self.sockets = {}  # group -> {channel name: consumer}
        # channel name -> its groups, so that a socket's end does not scan every
        # group of the process (thousands of sockets closing at once would)
        self.groups_of = {}
        self.changing = asyncio.Lock()  # one join or leave at a time
        self.beating = {}  # group -> {channel name: consumer} whose heartbeats we send
        self.heartbeats = {}  # group -> the task that sends them
        self.tasks = []  # kept here: the event loop holds its tasks only weakly

    async def register(self, group, consumer):
        """Send ``group``'s messages for sockets to ``consumer`` from now on."""
        async with self.changing:
            await self.start()
            if group not in self.sockets:
                await self.layer.group_add(group, self.channel)
                self.sockets[group] = {}
            self.sockets[group][consumer.channel_name] = consumer
            self.groups_of.setdefault(consumer.channel_name, set()).add(group)

    async def unregister(self, group, consumer):
        """Stop sending ``group``'s messages to ``consumer``; leave after the last."""
        async with self.changing:
            await self._remove(group, consumer)

    async def forget(self, consumer):
        """Take ``consumer`` out of every group it is in (its socket has ended)."""
        async with self.changing:
            for group in list(self.groups_of.get(consumer.channel_name, ())):
                await self._remove(group, consumer)

    def beat(self, group, consumer, period):
        """Send ``consumer.heartbeat_event()`` to ``group`` every ``period`` (s),
        with those of the process's other sockets on it, in one message."""
        if group not in self.beating:
            self.beating[group] = {}
            task = self.loop.create_task(self.send_heartbeats(group, period))
            self.heartbeats[group] = task
        self.beating[group][consumer.channel_name] = consumer

    def stop_beating(self, group, consumer):
        """Stop sending ``consumer``'s heartbeats; the last one out ends the group's."""
        members = self.beating.get(group, {})
        if members.get(consumer.channel_name) is consumer:
            del members[consumer.channel_name]
            if not members:
                del self.beating[group]
                self.heartbeats.pop(group).cancel()

    async def _remove(self, group, consumer):
        members = self.sockets.get(group, {})
        if members.get(consumer.channel_name) is not consumer:
            return
        del members[consumer.channel_name]
        groups = self.groups_of[consumer.channel_name]
        groups.discard(group)
        if not groups:
            del self.groups_of[consumer.channel_name]
        if not members:
            del self.sockets[group]
            await self.layer.group_discard(group, self.channel)

    async def start(self):
        if self.channel is None:
            self.channel = await self.layer.new_channel()
            self.tasks += [
                self.loop.create_task(self.read()),
                self.loop.create_task(self.refresh()),
            ]

    async def read(self):
        """Hand each message on the hub's channel to the sockets it is for."""
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except Exception:
                # Never end: every socket of the process depends on this loop.
                logger.exception("The push hub could not receive; trying again")
                await asyncio.sleep(RETRY_SECONDS)
                continue
            kind = message.get("type")
            try:
                if kind == "doc.updated":
                    await self.push(message)
                elif kind == PRESENCE:
                    await self.presence(message)
                # Anything else, such as layer.reconnected, each socket hears
                # itself (it is in its list's links group).
            except Exception:
                logger.exception("Could not hand on a %s message", kind)

    async def push(self, event):
        """Send a committed write's bytes, then its text frame, to every socket.

        The text frame names what is stored now (heads, chunk count, size), so
        a socket that only listens (and so gets no acknowledgements) can notice
        a push it missed, for example one that a full channel layer dropped,
        and knows when the stored chunks were compacted. A write that only
        compacted has no new bytes: the text frame goes alone.
        """
        members = self.sockets.get(group_name(event["doc_id"]))
        if not members:
            return
        sockets = [
            consumer for name, consumer in members.items() if name != event["sender"]
        ]
        if event["data"]:
            for consumer in sockets:
                await send(consumer, bytes_data=event["data"])
            committed_at = event.get("committed_at")
            for _ in sockets:
                metrics.observe_push(committed_at)
        fields = {key: event[key] for key in ("heads", "chunks", "size")}
        text = json.dumps({"type": "update", **fields})
        for consumer in sockets:
            await send(consumer, text_data=text)

    async def presence(self, event):
        """Hand a socket's presence announcement to this process's sockets.

        Each notes it (``presence_heard``); to a ``join``, those that answer
        (``presence_answer``) answer together, in one message to the joiner.
        """
        # Announcements of a process of the version before the hub name no
        # group (during a rolling upgrade): its sockets get ours themselves.
        members = self.sockets.get(event.get("group"))
        if not members:
            return
        if "events" in event:  # another process's heartbeats (or ours)
            for name, consumer in list(members.items()):
                try:
                    await consumer.presence_roster(event)
                except Exception:
                    logger.exception("Could not hand presence to %s", name)
            return
        answers = []
        for name, consumer in list(members.items()):
            if name == event["sender"]:
                continue
            try:
                answer = consumer.presence_answer(event)
                if answer is not None:
                    answers.append(answer)
                await consumer.presence_heard(event)
            except Exception:
                logger.exception("Could not hand presence to %s", name)
        if answers:
            roster = {"type": "presence.roster", "events": answers}
            await self.layer.send(event["sender"], roster)

    async def send_heartbeats(self, group, period):
        """Until cancelled (``stop_beating``): ``group``'s heartbeats, together.

        A batch carries its first announcement's fields as its own, so that a
        socket of the version before the hub (a rolling upgrade) takes it for
        that one announcement instead of failing on a message it cannot read.
        """
        # A random phase, so that processes restarted together do not beat in step.
        await asyncio.sleep(random.uniform(0, period))
        while True:
            try:
                # Never end while it has sockets: without heartbeats, every
                # other socket on the list would drop them.
                await self.send_heartbeats_once(group)
            except Exception:
                logger.exception("Could not send the heartbeats of %s", group)
            await asyncio.sleep(period)

    async def send_heartbeats_once(self, group):
        events = []
        for consumer in list(self.beating[group].values()):
            event = consumer.heartbeat_event()
            if event is not None:
                events.append(event)
        for start in range(0, len(events), HEARTBEAT_BATCH):
            batch = events[start : start + HEARTBEAT_BATCH]
            await self.layer.group_send(
                group, {**batch[0], "group": group, "events": batch}
            )

    async def refresh(self):
        """Add the hub to its groups again before the layer's memberships expire."""
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            async with self.changing:
                for group in list(self.sockets):
                    await self.layer.group_add(group, self.channel)


async def send(consumer, **frame):
    """Send one frame to one socket; a failure there is that socket's alone."""
    try:
        await consumer.receive_push(**frame)
    except Exception:
        logger.exception("Could not push to %s", consumer.channel_name)
