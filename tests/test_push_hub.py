"""The push hub: one group membership per process, each push sent to its sockets."""

import asyncio

from todo_site.memory_layer import InMemoryChannelLayer
from todos import push_hub
from todos.push_hub import hub_of
from todos.storage import group_name

DOC = "hub-doc"
GROUP = group_name(DOC)


class Socket:
    """Stands in for a DocumentConsumer: its channel, what it was sent."""

    def __init__(self, name, log=None, fail=False):
        self.channel_name = name
        self.log = [] if log is None else log
        self.fail = fail

    async def receive_push(self, bytes_data=None, text_data=None):
        if self.fail:
            raise ConnectionError("gone")
        self.log.append((self.channel_name, bytes_data or text_data))


def update(data=b"change", sender=None):
    return {
        "type": "doc.updated",
        "doc_id": DOC,
        "data": data,
        "heads": ["h"],
        "chunks": 2,
        "size": 10,
        "sender": sender,
    }


async def settle():
    for _ in range(5):
        await asyncio.sleep(0.01)


async def test_sockets_of_one_process_share_one_membership():
    layer = InMemoryChannelLayer()
    hub = hub_of(layer)
    sockets = [Socket(f"s{n}") for n in range(3)]

    for socket in sockets:
        await hub.register(GROUP, socket)

    assert set(layer.groups[group_name(DOC)]) == {hub.channel}
    assert hub_of(layer) is hub


async def test_a_push_reaches_every_socket_but_its_sender_bytes_first():
    layer = InMemoryChannelLayer()
    hub = hub_of(layer)
    log = []
    sockets = [Socket(f"s{n}", log) for n in range(3)]
    for socket in sockets:
        await hub.register(GROUP, socket)

    await layer.group_send(group_name(DOC), update(sender="s1"))
    await settle()

    text = '{"type": "update", "heads": ["h"], "chunks": 2, "size": 10}'
    assert log == [("s0", b"change"), ("s2", b"change"), ("s0", text), ("s2", text)]


async def test_a_compaction_pushes_only_the_text_frame():
    layer = InMemoryChannelLayer()
    hub = hub_of(layer)
    socket = Socket("s0")
    await hub.register(GROUP, socket)

    await layer.group_send(group_name(DOC), update(data=b""))
    await settle()

    assert [frame for _, frame in socket.log] == [
        '{"type": "update", "heads": ["h"], "chunks": 2, "size": 10}'
    ]


async def test_a_failing_socket_does_not_keep_the_others_from_their_push():
    layer = InMemoryChannelLayer()
    hub = hub_of(layer)
    log = []
    await hub.register(GROUP, Socket("broken", fail=True))
    await hub.register(GROUP, Socket("fine", log))

    await layer.group_send(group_name(DOC), update())
    await settle()

    assert [name for name, _ in log] == ["fine", "fine"]


async def test_the_last_socket_out_leaves_the_group_and_the_next_joins_again():
    layer = InMemoryChannelLayer()
    hub = hub_of(layer)
    first, second = Socket("s0"), Socket("s1")
    await hub.register(GROUP, first)
    await hub.register(GROUP, second)

    await hub.unregister(GROUP, first)
    assert set(layer.groups[group_name(DOC)]) == {hub.channel}
    await hub.unregister(GROUP, second)
    await hub.forget(second)  # the consumer's end, after its disconnect()
    assert group_name(DOC) not in layer.groups

    third = Socket("s2")
    await hub.register(GROUP, third)
    await layer.group_send(group_name(DOC), update())
    await settle()
    assert [name for name, _ in third.log] == ["s2", "s2"]
    assert first.log == second.log == []


async def test_register_returns_only_once_the_group_is_joined():
    """A socket registers before it reads the stored document: a push committed
    after that read must reach it, so the join cannot still be on its way."""

    class SlowLayer(InMemoryChannelLayer):
        async def group_add(self, group, channel):
            await asyncio.sleep(0.05)
            await super().group_add(group, channel)

    layer = SlowLayer()
    hub = hub_of(layer)
    first, second = Socket("s0"), Socket("s1")

    await asyncio.gather(hub.register(GROUP, first), hub.register(GROUP, second))

    assert set(layer.groups[group_name(DOC)]) == {hub.channel}
    await layer.group_send(group_name(DOC), update())
    await settle()
    assert len(first.log) == len(second.log) == 2


async def test_a_leave_and_a_join_at_once_leave_the_hub_in_the_group():
    class SlowLayer(InMemoryChannelLayer):
        async def group_discard(self, group, channel):
            await asyncio.sleep(0.05)
            await super().group_discard(group, channel)

    layer = SlowLayer()
    hub = hub_of(layer)
    leaving, joining = Socket("s0"), Socket("s1")
    await hub.register(GROUP, leaving)

    await asyncio.gather(hub.unregister(GROUP, leaving), hub.register(GROUP, joining))

    assert set(layer.groups[group_name(DOC)]) == {hub.channel}
    await layer.group_send(group_name(DOC), update())
    await settle()
    assert len(joining.log) == 2


async def test_a_failed_receive_does_not_end_the_hub(monkeypatch):
    from todos import push_hub

    monkeypatch.setattr(push_hub, "RETRY_SECONDS", 0.01)

    class FlakyLayer(InMemoryChannelLayer):
        failures = 1

        async def receive(self, channel):
            if self.failures:
                self.failures -= 1
                raise ConnectionError("lost the layer")
            return await super().receive(channel)

    layer = FlakyLayer()
    hub = hub_of(layer)
    socket = Socket("s0")
    await hub.register(GROUP, socket)

    await layer.group_send(group_name(DOC), update())
    await settle()

    assert layer.failures == 0
    assert [name for name, _ in socket.log] == ["s0", "s0"]


class Speaker:
    """Stands in for a presence socket: what it heard, and its answer to a join."""

    def __init__(self, name, fail=False):
        self.channel_name = name
        self.heard = []
        self.fail = fail

    def presence_answer(self, event):
        if event["kind"] != "join":
            return None
        return {"kind": "here", "peer": self.channel_name, "sender": self.channel_name}

    async def presence_heard(self, event):
        if self.fail:
            raise ConnectionError("gone")
        self.heard.append((event["kind"], event["peer"]))


def announcement(kind, sender, group="presence_hub-doc"):
    return {
        "type": "presence.event",
        "group": group,
        "kind": kind,
        "peer": sender,
        "editing": None,
        "sender": sender,
    }


async def test_a_join_is_answered_by_the_process_in_one_message():
    layer = InMemoryChannelLayer()
    hub = hub_of(layer)
    speakers = [Speaker(f"s{n}") for n in range(3)]
    for speaker in speakers:
        await hub.register("presence_hub-doc", speaker)
    joiner = await layer.new_channel()

    await layer.group_send("presence_hub-doc", announcement("join", joiner))
    roster = await asyncio.wait_for(layer.receive(joiner), 1)

    assert roster["type"] == "presence.roster"
    assert [answer["peer"] for answer in roster["events"]] == ["s0", "s1", "s2"]
    assert all(speaker.heard == [("join", joiner)] for speaker in speakers)


async def test_an_announcement_reaches_every_socket_of_its_group_but_its_sender():
    layer = InMemoryChannelLayer()
    hub = hub_of(layer)
    broken, alice, bob = Speaker("broken", fail=True), Speaker("a"), Speaker("b")
    for speaker in (broken, alice, bob):
        await hub.register("presence_hub-doc", speaker)
    quiet = Speaker("q")
    await hub.register("quiet_hub-doc", quiet)

    await layer.group_send("presence_hub-doc", announcement("here", "a"))
    await settle()

    assert alice.heard == [] and quiet.heard == []
    assert bob.heard == [("here", "a")]


class Beating(Speaker):
    """A presence socket with a heartbeat, or none once its client fell silent."""

    def __init__(self, name, silent=False):
        super().__init__(name)
        self.silent = silent

    def heartbeat_event(self):
        return None if self.silent else announcement("here", self.channel_name)


class Roster(Speaker):
    """A presence socket that records the batches it is handed."""

    def __init__(self, name):
        super().__init__(name)
        self.rosters = []

    async def presence_roster(self, message):
        self.rosters.append([event["peer"] for event in message["events"]])


async def drain(layer, channel, wait=0.01):
    """Receive what comes on ``channel`` until ``wait`` s pass without any; how many."""
    count = 0
    while True:
        try:
            await asyncio.wait_for(layer.receive(channel), wait)
        except TimeoutError:
            return count
        count += 1


async def test_heartbeats_go_out_together_in_batches_until_the_last_stops(
    monkeypatch,
):
    monkeypatch.setattr(push_hub, "HEARTBEAT_BATCH", 2)
    layer = InMemoryChannelLayer()
    hub = hub_of(layer)
    listener = await layer.new_channel()
    await layer.group_add("presence_hub-doc", listener)
    sockets = [Beating("s0"), Beating("s1", silent=True), Beating("s2"), Beating("s3")]
    for socket in sockets:
        hub.beat("presence_hub-doc", socket, period=0.05)

    batches = [await asyncio.wait_for(layer.receive(listener), 1) for _ in range(2)]

    assert [[e["peer"] for e in batch["events"]] for batch in batches] == [
        ["s0", "s2"],
        ["s3"],
    ]
    assert batches[1]["peer"] == "s3"  # its first announcement's fields, as its own
    for socket in sockets:
        hub.stop_beating("presence_hub-doc", socket)
    await drain(layer, listener)  # what was sent before the last stopped

    assert await drain(layer, listener, wait=0.15) == 0
    assert hub.beating == {} and hub.heartbeats == {}


async def test_a_process_hands_heartbeats_to_each_socket_of_the_group():
    layer = InMemoryChannelLayer()
    hub = hub_of(layer)
    alice, bob = Roster("a"), Roster("b")
    for speaker in (alice, bob):
        await hub.register("presence_hub-doc", speaker)
    heres = [announcement("here", peer) for peer in ("a", "x", "y")]

    await layer.group_send("presence_hub-doc", {**heres[0], "events": heres})
    await settle()

    assert alice.rosters == bob.rosters == [["a", "x", "y"]]


async def test_heartbeats_go_on_after_a_failure():
    layer = InMemoryChannelLayer()
    hub = hub_of(layer)
    listener = await layer.new_channel()
    await layer.group_add("presence_hub-doc", listener)
    calls = []

    class Flaky(Beating):
        def heartbeat_event(self):
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("a bug in one socket")
            return super().heartbeat_event()

    hub.beat("presence_hub-doc", Flaky("s0"), period=0.02)

    heartbeat = await asyncio.wait_for(layer.receive(listener), 1)

    assert len(calls) >= 2 and heartbeat["peer"] == "s0"
