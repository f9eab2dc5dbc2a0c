"""The sync protocol on the tab socket (``todos.tab_sync``), in-process.

The tab's side is real Automerge (``automerge.core``, tests/helpers/sync_peer.py)
syncing with the consumer through Channels' WebsocketCommunicator.
"""

import json
import logging

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from tests import automerge_node
from tests.helpers import attacks
from tests.helpers.sync_peer import SyncPeer, bloom_false_positive
from todo_site.asgi import application
from todos import capabilities, storage

pytestmark = pytest.mark.django_db(transaction=True)

DOC = "groceries"
PATH = f"/ws/docs/{DOC}?sync=1"
ORIGIN = (b"origin", b"http://127.0.0.1:8000")

write = database_sync_to_async(storage.write_document)
read = database_sync_to_async(storage.read_document)


@pytest.fixture(scope="session")
def case(tmp_path_factory):
    return automerge_node.make_scenario(tmp_path_factory.mktemp("scenario"))


async def connect(path=PATH):
    communicator = WebsocketCommunicator(application, path, headers=[ORIGIN])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def exchange(socket, peer, first=None, timeout=0.5):
    """Sync ``peer`` with the server until neither speaks; return what came.

    Returns ``(bytes received in binary frames, text frames as dicts)``.
    """
    received, texts = 0, []
    message = first if first is not None else peer.generate()
    if message is not None:
        await socket.send_to(bytes_data=message)
    while not await socket.receive_nothing(timeout=timeout):
        output = await socket.receive_output()
        if output.get("text") is not None:
            texts.append(json.loads(output["text"]))
            continue
        received += len(output["bytes"])
        peer.receive(output["bytes"])
        reply = peer.generate()
        if reply is not None:
            await socket.send_to(bytes_data=reply)
    return received, texts


async def stored_heads():
    stored = await read(DOC)
    return SyncPeer(stored.data).heads() if stored else []


async def test_a_syncing_socket_is_sent_nothing_on_connect(case):
    await write(DOC, case["base"])
    socket = await connect()

    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_a_fresh_tab_receives_everything(case):
    await write(DOC, case["base"])
    await write(DOC, case["a1"])
    await write(DOC, case["a2"])
    socket = await connect()
    peer = SyncPeer()

    received, texts = await exchange(socket, peer)

    assert texts == []
    assert peer.heads() == await stored_heads()
    assert received > 0
    await socket.disconnect()


async def test_a_returning_tab_receives_only_what_it_lacks(case):
    await write(DOC, case["full_a"])
    await write(DOC, case["b1"])
    socket = await connect()
    peer = SyncPeer(case["full_a"])

    received, _ = await exchange(socket, peer)

    assert peer.heads() == await stored_heads()
    stored = await read(DOC)
    assert received < len(stored.data)
    await socket.disconnect()


async def test_changes_a_tab_holds_are_stored_and_pushed_to_other_tabs(case):
    await write(DOC, case["base"])
    listener = await connect(f"/ws/docs/{DOC}")
    await listener.receive_from()  # the stored document (a socket that does not sync)
    socket = await connect()
    peer = SyncPeer(case["base"] + case["a1"])

    await exchange(socket, peer)

    assert await stored_heads() == peer.heads()
    assert await listener.receive_from() == case["a1"]
    assert (await listener.receive_json_from())["type"] == "update"
    await socket.disconnect()
    await listener.disconnect()


async def test_an_upload_still_works_on_a_syncing_socket(case):
    socket = await connect()

    await socket.send_to(bytes_data=case["base"])

    assert (await socket.receive_json_from())["type"] == "ack"
    assert (await read(DOC)).data == case["base"]
    await socket.disconnect()


def sync_message_carrying(chunk):
    """A v1 sync message with no heads, needs or haves that carries ``chunk``."""
    return bytes([0x42, 0, 0, 0, 1]) + uleb(len(chunk)) + chunk


def uleb(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def corrupt(chunk):
    """``chunk`` with one byte of its body changed (its checksum no longer holds)."""
    damaged = bytearray(chunk)
    damaged[-3] ^= 0xFF
    return bytes(damaged)


@pytest.mark.parametrize(
    "kind, status", [("garbage", 400), ("truncated", 400), ("bad change", 400)]
)
async def test_a_bad_sync_frame_gets_an_error_and_changes_nothing(case, kind, status):
    await write(DOC, case["base"])
    before = (await read(DOC)).data
    frame = {
        "garbage": bytes([0x42]) + b"\xff" * 40,
        "truncated": sync_message_carrying(case["a1"])[:-10],
        "bad change": sync_message_carrying(corrupt(case["a1"])),
    }[kind]
    socket = await connect()

    await socket.send_to(bytes_data=frame)
    error = await socket.receive_json_from()

    assert error["type"] == "error" and error["sync"] is True
    assert error["status"] == status, error
    assert (await read(DOC)).data == before
    peer = SyncPeer()  # the socket still syncs
    await exchange(socket, peer)
    assert peer.heads() == await stored_heads()
    await socket.disconnect()


@pytest.fixture(scope="module")
def made():
    """A stored list and crafted changes that real Automerge cannot take."""
    return attacks.make_attacks()


async def test_a_change_that_would_break_the_list_is_refused_with_422(made):
    await write(DOC, made["stored"])
    before = (await read(DOC)).data
    socket = await connect()

    await socket.send_to(bytes_data=sync_message_carrying(made["poisoned_insert"]))
    error = await socket.receive_json_from()

    assert (error["type"], error["sync"], error["status"]) == ("error", True, 422)
    assert (await read(DOC)).data == before
    await socket.disconnect()


async def test_a_history_rewrite_is_refused_with_409(made):
    await write(DOC, made["stored"])
    await write(DOC, made["first"])
    before = (await read(DOC)).data
    socket = await connect()

    await socket.send_to(bytes_data=sync_message_carrying(made["second"]))
    error = await socket.receive_json_from()

    assert (error["sync"], error["status"]) == (True, 409), error
    assert (await read(DOC)).data == before
    await socket.disconnect()


async def test_a_viewer_catches_up_by_sync_but_cannot_send_changes(case):
    await write(DOC, case["base"])
    await write(DOC, case["a1"])
    token = await database_sync_to_async(capabilities.create_view_link)(DOC)
    socket = await connect(f"/ws/shared/{token}?sync=1")
    peer = SyncPeer()

    await exchange(socket, peer)
    assert peer.heads() == await stored_heads()
    before = (await read(DOC)).data
    await socket.send_to(bytes_data=sync_message_carrying(case["a2"]))
    error = await socket.receive_json_from()

    assert (error["sync"], error["status"]) == (True, 403)
    assert (await read(DOC)).data == before
    await socket.disconnect()


async def test_sync_messages_count_against_the_write_rate_limit(case, settings):
    settings.TODOS_WRITE_RATE_LIMIT = "2/minute"
    await write(DOC, case["base"])
    socket = await connect()
    peer = SyncPeer()

    frames = [peer.generate() for _ in range(3)]
    for frame in frames:
        await socket.send_to(bytes_data=frame or SyncPeer().generate())
    outputs = []
    while not await socket.receive_nothing(timeout=0.5):
        outputs.append(await socket.receive_output())

    errors = [json.loads(o["text"]) for o in outputs if o.get("text")]
    assert [(e["sync"], e["status"]) for e in errors] == [(True, 429)]
    assert errors[0]["retry_after"] > 0
    await socket.disconnect()


async def test_the_sync_state_is_forgotten_when_the_socket_closes(case):
    await write(DOC, case["base"])
    peer = SyncPeer()
    socket = await connect()
    await exchange(socket, peer)
    await socket.disconnect()
    await write(DOC, case["a1"])

    socket = await connect()
    peer.state = type(peer.state)()  # a new socket: both sides start afresh
    await exchange(socket, peer)

    assert peer.heads() == await stored_heads()
    await socket.disconnect()


async def test_a_reconnected_channel_layer_starts_a_new_exchange(case):
    await write(DOC, case["base"])
    socket = await connect()
    peer = SyncPeer()
    await exchange(socket, peer)
    await write(DOC, case["a1"])
    while not await socket.receive_nothing(timeout=0.3):
        await socket.receive_output()  # the push, lost as a full channel would lose it

    layer = get_channel_layer()
    # As the Redis layer does: to every channel of the process, so to each
    # socket's (a member of its list's links group), not to the push hub.
    await layer.group_send(capabilities.links_group(DOC), {"type": "layer.reconnected"})
    first = await socket.receive_from()
    assert isinstance(first, bytes) and first[0] == 0x42
    peer.receive(first)
    await exchange(socket, peer)

    assert peer.heads() == await stored_heads()
    await socket.disconnect()


async def test_changes_sent_before_what_they_build_on_are_kept_until_it_arrives():
    made = bloom_false_positive()
    await write(DOC, made["server"])
    socket = await connect()
    peer = SyncPeer(made["tab"])
    wanted = sorted(set(peer.heads()) | set(await stored_heads()))

    # Before: the change sent first was dropped (409), the tab never sends a
    # change twice, and the two asked each other for it without end.
    message, rounds = peer.generate(), 0
    while message is not None and rounds < 20:
        await socket.send_to(bytes_data=message)
        if await socket.receive_nothing(timeout=0.5):
            break
        peer.receive(await socket.receive_from())
        message, rounds = peer.generate(), rounds + 1

    assert await stored_heads() == wanted
    assert rounds < 10, f"the exchange took {rounds} round trips"
    await socket.disconnect()


async def test_held_changes_are_tried_again_only_once_something_new_is_stored(caplog):
    caplog.set_level(logging.INFO, logger="todos.writes")
    made = bloom_false_positive()
    await write(DOC, made["server"])
    socket = await connect()
    peer = SyncPeer(made["tab"])
    wanted = sorted(set(peer.heads()) | set(await stored_heads()))

    def refusals():
        logged = [r for r in caplog.records if r.name == "todos.writes"]
        return [record for record in logged if record.status == 409]

    # Sync until the server holds the tab's change that builds on one it lacks.
    message = peer.generate()
    while not refusals():
        await socket.send_to(bytes_data=message)
        peer.receive(await socket.receive_from())
        message = peer.generate()
    # Messages with no changes (another tab state's opening message) find
    # nothing new stored: the held change is not written again.
    for _ in range(3):
        await socket.send_to(bytes_data=SyncPeer(made["tab"]).generate())
        await socket.receive_from()
    assert len(refusals()) == 1

    # The change it builds on arrives: both are stored.
    while message is not None:
        await socket.send_to(bytes_data=message)
        if await socket.receive_nothing(timeout=0.5):
            break
        peer.receive(await socket.receive_from())
        message = peer.generate()
    assert await stored_heads() == wanted
    await socket.disconnect()
