"""Presence (todos/presence/): frames, the peers table, and the list consumers
driven with Channels' WebsocketCommunicator on the in-memory channel layer."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from todo_site.asgi import application
from todos import capabilities, storage
from todos.presence import frames
from todos.presence.consumer import presence_group, quiet_group
from todos.presence.peers import Peers
from todos.push_hub import hub_of

DOC = "presence-list"
PATH = f"/ws/docs/{DOC}"
ORIGIN = (b"origin", b"http://127.0.0.1:8000")
SPEAK = json.dumps({"type": "presence", "editing": None})


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def editing(item):
    return json.dumps({"type": "presence", "editing": item})


# Frames


def test_a_presence_frame_names_the_item_or_none():
    assert frames.parse_presence(SPEAK) is None
    assert frames.parse_presence(editing("3@abc")) == "3@abc"


@pytest.mark.parametrize(
    "text, fault",
    [
        ("not json", "not JSON"),
        ('["presence"]', "presence frames"),
        ('{"type": "hello"}', "binary frame"),
        ('{"type": "presence", "editing": 7}', "'editing' must be an item id"),
        ('{"type": "presence", "editing": ""}', "'editing' must be an item id"),
        (editing("x" * 129), "1 to 128 characters"),
    ],
)
def test_a_malformed_presence_frame_is_a_400_naming_the_fault(text, fault):
    with pytest.raises(frames.PresenceError) as error:
        frames.parse_presence(text)

    assert error.value.status == 400
    assert fault in error.value.message


def test_a_presence_frame_over_512_bytes_is_a_413():
    text = json.dumps({"type": "presence", "editing": None, "pad": "é" * 250})

    with pytest.raises(frames.PresenceError) as error:
        frames.parse_presence(text)

    assert error.value.status == 413
    assert "at most 512 bytes" in error.value.message


def test_a_view_only_socket_may_announce_itself_but_not_editing():
    assert frames.parse_presence(SPEAK, read_only=True) is None
    with pytest.raises(frames.PresenceError) as error:
        frames.parse_presence(editing("3@abc"), read_only=True)

    assert error.value.status == 403
    assert "view-only" in error.value.message


def test_the_frame_bucket_allows_a_burst_then_one_a_second():
    clock = Clock()
    bucket = frames.FrameBucket(burst=3, clock=clock)

    assert [bucket.take() for _ in range(3)] == [0, 0, 0]
    assert bucket.take() == pytest.approx(1.0)
    clock.now += 1.0
    assert bucket.take() == 0


# The peers table


def test_peers_report_news_only_when_the_view_changes():
    peers = Peers(clock=Clock())

    assert peers.heard("a", None)
    assert not peers.heard("a", None)
    assert peers.heard("a", "1@x")
    assert peers.others() == [{"id": "a", "editing": "1@x"}]
    assert peers.left("a")
    assert not peers.left("a")


def test_peers_not_heard_from_expire():
    clock = Clock()
    peers = Peers(clock=clock)
    peers.heard("old", None)
    clock.now += 5
    peers.heard("new", None)

    assert peers.expire(silence=4)
    assert peers.others() == [{"id": "new", "editing": None}]
    assert not peers.expire(silence=4)


def test_the_peers_table_is_bounded():
    peers = Peers(clock=Clock(), limit=2)
    for peer in "abc":
        peers.heard(peer, None)

    assert [other["id"] for other in peers.others()] == ["a", "b"]


# The consumers


pytestmark_db = pytest.mark.django_db(transaction=True)
read = database_sync_to_async(storage.read_document)
make_view_link = database_sync_to_async(capabilities.create_view_link)


@pytest.fixture
def short_timeout(settings):
    settings.TODOS_PRESENCE_TIMEOUT = 0.6
    return 0.6


async def connect(path=PATH, speak=True):
    socket = WebsocketCommunicator(application, path, headers=[ORIGIN])
    connected, _ = await socket.connect()
    assert connected
    if speak:
        await socket.send_to(text_data=SPEAK)
    return socket


async def presence(socket, timeout=2):
    """The next presence frame's others."""
    frame = await socket.receive_json_from(timeout=timeout)
    assert frame["type"] == "presence", frame
    return frame["others"]


async def seen(socket, count, timeout=2):
    """Presence frames until one shows ``count`` others; return those others."""
    while True:
        others = await presence(socket, timeout)
        if len(others) == count:
            return others


async def listen(doc_id=DOC):
    """A bare channel in the list's presence group: (layer, channel)."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(presence_group(doc_id), channel)
    return layer, channel


@pytestmark_db
async def test_the_first_answer_says_who_is_here_and_the_timeout():
    socket = WebsocketCommunicator(application, PATH, headers=[ORIGIN])
    await socket.connect()

    await socket.send_to(text_data=SPEAK)
    frame = await socket.receive_json_from()

    assert frame == {"type": "presence", "others": [], "timeout": 30.0}
    await socket.disconnect()


@pytestmark_db
async def test_two_sockets_see_each_other_join_edit_and_leave():
    alice = await connect()
    assert await presence(alice) == []
    bob = await connect()

    [alice_seen] = await seen(bob, 1)
    [bob_seen] = await presence(alice)
    await bob.send_to(text_data=editing("2@abc"))
    assert await presence(alice) == [{"id": bob_seen["id"], "editing": "2@abc"}]
    await bob.disconnect()

    assert alice_seen["editing"] is None
    assert await presence(alice) == []
    await alice.disconnect()


@pytestmark_db
async def test_presence_never_reaches_the_document():
    alice = await connect()
    await alice.send_to(text_data=editing("2@abc"))

    assert await presence(alice) == []
    assert await alice.receive_nothing(timeout=0.2)
    assert await read(DOC) is None
    await alice.disconnect()


@pytestmark_db
async def test_a_socket_that_never_speaks_presence_is_counted_and_sent_nothing():
    alice = await connect()
    await presence(alice)
    quiet = await connect(speak=False)

    assert len(await presence(alice)) == 1
    assert await quiet.receive_nothing(timeout=0.3)
    await quiet.disconnect()
    assert await presence(alice) == []
    await alice.disconnect()


@pytestmark_db
async def test_a_speaker_who_comes_later_learns_of_the_quiet_sockets():
    quiet = [await connect(speak=False) for _ in range(2)]
    alice = await connect()

    assert len(await seen(alice, 2)) == 2
    for socket in quiet:
        assert await socket.receive_nothing(timeout=0.1)
        await socket.disconnect()
    await alice.disconnect()


@pytestmark_db
async def test_only_speaking_sockets_are_sent_the_others_announcements():
    hub = hub_of(get_channel_layer())
    quiet = await connect(speak=False)
    alice = await connect()
    await presence(alice)
    speakers = set(hub.sockets.get(presence_group(DOC), {}))
    silent = set(hub.sockets.get(quiet_group(DOC), {}))

    assert len(speakers) == 1 and len(silent) == 1 and not speakers & silent
    await quiet.send_to(text_data=SPEAK)  # its client starts to speak
    assert len(await seen(quiet, 1)) == 1
    assert set(hub.sockets.get(presence_group(DOC), {})) == speakers | silent
    assert not hub.sockets.get(quiet_group(DOC))
    await quiet.disconnect()
    await alice.disconnect()


@pytestmark_db
async def test_a_refused_presence_frame_is_an_error_about_presence():
    alice = await connect()
    await presence(alice)

    await alice.send_to(text_data='{"type": "presence", "editing": 7}')
    error = await alice.receive_json_from()

    assert error["type"] == "error" and error["about"] == "presence"
    assert error["status"] == 400
    await alice.disconnect()


@pytestmark_db
async def test_too_many_presence_frames_are_a_429():
    alice = await connect()
    await presence(alice)
    for _ in range(frames.BURST - 1):
        await alice.send_to(text_data=SPEAK)

    await alice.send_to(text_data=SPEAK)
    error = await alice.receive_json_from()

    assert error["status"] == 429 and error["retry_after"] > 0
    await alice.disconnect()


@pytestmark_db
async def test_a_viewer_is_counted_and_cannot_announce_editing():
    token = await make_view_link(DOC)
    alice = await connect()
    await presence(alice)
    viewer = await connect(f"/ws/shared/{token}")

    assert len(await seen(viewer, 1)) == 1
    assert len(await presence(alice)) == 1
    await viewer.send_to(text_data=editing("2@abc"))
    error = await viewer.receive_json_from()

    assert error["status"] == 403 and error["about"] == "presence"
    assert await alice.receive_nothing(timeout=0.2)
    await viewer.disconnect()
    await alice.disconnect()


@pytestmark_db
async def test_a_peer_whose_process_died_expires_within_the_timeout(short_timeout):
    alice = await connect()
    await presence(alice)
    layer = get_channel_layer()
    group = presence_group(DOC)
    ghost = {"kind": "join", "peer": "ghost", "editing": None, "sender": "gone!x"}

    await layer.group_send(group, {"type": "presence.event", "group": group, **ghost})
    assert await presence(alice) == [{"id": "ghost", "editing": None}]

    assert await presence(alice, timeout=short_timeout) == []
    await alice.disconnect()


@pytestmark_db
async def test_heartbeats_keep_a_live_peer(short_timeout):
    alice = await connect()
    await presence(alice)
    bob = await connect()
    await seen(bob, 1)
    await presence(alice)

    for _ in range(6):  # 1.2 s: two timeouts, bob's client speaking throughout
        await bob.send_to(text_data=SPEAK)
        assert await alice.receive_nothing(timeout=0.2)
    await bob.disconnect()
    await alice.disconnect()


@pytestmark_db
async def test_a_client_that_falls_silent_is_announced_gone(short_timeout):
    alice = await connect()
    await presence(alice)
    bob = await connect()
    await seen(bob, 1)
    assert len(await presence(alice)) == 1

    # Bob's socket stays open but his client sends nothing more.
    assert await presence(alice, timeout=short_timeout) == []
    await bob.send_to(text_data=SPEAK)
    assert len(await presence(alice)) == 1
    await bob.disconnect()
    await alice.disconnect()


@pytestmark_db
async def test_a_reconnected_layer_makes_each_socket_announce_join_again():
    alice = await connect()
    await presence(alice)
    layer, channel = await listen()

    # As the Redis layer does: to every channel of the process, so to each
    # socket's (a member of its list's links group), not to the push hub.
    await layer.group_send(capabilities.links_group(DOC), {"type": "layer.reconnected"})
    event = await layer.receive(channel)

    assert event["kind"] == "join"
    await alice.disconnect()
    assert (await layer.receive(channel))["kind"] == "leave"


@pytestmark_db
async def test_a_viewer_following_a_rotated_list_is_counted_under_the_new_id():
    token = await make_view_link(DOC)
    viewer = await connect(f"/ws/shared/{token}")
    await seen(viewer, 0)

    new_id = await database_sync_to_async(capabilities.rotate_edit_id)(DOC)
    assert await presence(viewer) == []  # the old list's group is left
    alice = await connect(f"/ws/docs/{new_id}")

    assert len(await seen(alice, 1)) == 1
    assert len(await seen(viewer, 1)) == 1
    await alice.disconnect()
    await viewer.disconnect()


@pytestmark_db
async def test_a_process_sends_its_sockets_heartbeats_in_one_message(settings):
    settings.TODOS_PRESENCE_TIMEOUT = 1.2  # a heartbeat each 0.4 s
    layer, channel = await listen()
    sockets = [await connect(speak=False) for _ in range(8)]
    joined, batches = set(), []
    while not batches or len(batches[-1]["events"]) < len(sockets):
        event = await asyncio.wait_for(layer.receive(channel), 2)
        if event["kind"] == "join":
            joined.add(event["peer"])
        else:  # no socket sends a heartbeat of its own
            assert event["kind"] == "here" and "events" in event, event
            batches.append(event)

    heartbeat = batches[-1]
    assert {here["peer"] for here in heartbeat["events"]} == joined
    assert len(joined) == len(sockets)
    # A socket of the version before the hub reads it as its first announcement.
    first = heartbeat["events"][0]
    assert {key: heartbeat[key] for key in first} == first
    for socket in sockets:
        await socket.disconnect()


@pytestmark_db
async def test_an_answer_sent_to_the_socket_alone_is_noted():
    """During a rolling upgrade a process of the version before the push hub
    answers a join with a message to the joiner's own channel."""
    alice = await connect()
    await presence(alice)
    channel = next(iter(hub_of(get_channel_layer()).sockets[presence_group(DOC)]))
    here = {"kind": "here", "peer": "old", "editing": None, "sender": "old!x"}

    await get_channel_layer().send(channel, {"type": "presence.event", **here})

    assert await presence(alice) == [{"id": "old", "editing": None}]
    await alice.disconnect()
