"""The WebSocket consumer, driven in-process with Channels' WebsocketCommunicator."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from tests import automerge_node
from todo_site.asgi import application
from todos import storage

pytestmark = pytest.mark.django_db(transaction=True)

DOC = "groceries"
PATH = f"/ws/docs/{DOC}"
ORIGIN = (b"origin", b"http://127.0.0.1:8000")


@pytest.fixture(scope="session")
def case(tmp_path_factory):
    return automerge_node.make_scenario(tmp_path_factory.mktemp("scenario"))


async def connect(path=PATH, origin=ORIGIN):
    communicator = WebsocketCommunicator(application, path, headers=[origin])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


write = database_sync_to_async(storage.write_document)
read = database_sync_to_async(storage.read_document)


async def test_connect_sends_nothing_when_no_document_is_stored():
    socket = await connect()

    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


async def test_connect_sends_the_stored_document_as_one_binary_frame(case):
    await write(DOC, case["base"])
    await write(DOC, case["a1"])

    socket = await connect()

    assert await socket.receive_output() == {
        "type": "websocket.send",
        "bytes": case["base"] + case["a1"],
    }
    await socket.disconnect()


async def test_binary_frame_is_merged_and_acknowledged(case):
    socket = await connect()

    await socket.send_to(bytes_data=case["base"])
    ack = await socket.receive_json_from()

    assert ack["type"] == "ack"
    assert ack["changed"] is True
    assert ack["chunks"] == 1
    assert (await read(DOC)).data == case["base"]
    await socket.disconnect()


async def test_write_is_pushed_to_others_but_not_back_to_the_writer(case):
    await write(DOC, case["base"])
    writer, reader = await connect(), await connect()
    await writer.receive_from()
    await reader.receive_from()

    await writer.send_to(bytes_data=case["a1"])

    ack = await writer.receive_json_from()
    assert ack["type"] == "ack"
    assert await reader.receive_from() == case["a1"]
    assert await reader.receive_json_from() == {
        "type": "update",
        "heads": ack["heads"],
        "chunks": ack["chunks"],
        "size": ack["size"],
    }
    assert await writer.receive_nothing(timeout=0.2)
    await writer.disconnect()
    await reader.disconnect()


async def test_a_server_compaction_is_announced_without_bytes(case):
    for name in ("base", "a1", "a2", "b1"):
        await write(DOC, case[name])
    reader = await connect()
    await reader.receive_from()

    from todos.storage import compaction

    assert await database_sync_to_async(compaction.compact_document)(DOC)

    stored = await read(DOC)
    frame = await reader.receive_json_from()
    assert frame["type"] == "update" and frame["chunks"] == 1
    assert frame["size"] == len(stored.data)
    assert await reader.receive_nothing(timeout=0.2)
    await reader.disconnect()


async def test_http_write_is_pushed_to_open_sockets(case):
    await write(DOC, case["base"])
    socket = await connect()
    await socket.receive_from()

    await write(DOC, case["b1"])

    assert await socket.receive_from() == case["b1"]
    await socket.disconnect()


async def test_upload_the_server_already_has_pushes_nothing(case):
    await write(DOC, case["base"])
    writer, reader = await connect(), await connect()
    await writer.receive_from()
    await reader.receive_from()

    await writer.send_to(bytes_data=case["base"])

    assert (await writer.receive_json_from())["changed"] is False
    assert await reader.receive_nothing(timeout=0.2)
    await writer.disconnect()
    await reader.disconnect()


async def test_a_push_is_not_held_up_by_a_busy_database_thread(case):
    """Dispatching a push makes no round trip to the database thread.

    Channels' stock dispatch ran ``close_old_connections`` in that one thread
    before every message, so one slow query there held every socket's pushes.
    """
    import asyncio
    import threading

    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    await write(DOC, case["base"])
    socket = await connect()
    await socket.receive_from()
    release = threading.Event()
    busy = asyncio.ensure_future(sync_to_async(release.wait)(5))
    try:
        await asyncio.sleep(0.05)  # the database thread is now waiting
        await get_channel_layer().group_send(
            storage.group_name(DOC),
            {
                "type": "doc.updated",
                "doc_id": DOC,
                "data": case["b1"],
                "heads": [],
                "chunks": 2,
                "size": 0,
                "sender": None,
            },
        )
        assert await socket.receive_from(timeout=1) == case["b1"]
        assert not busy.done()
    finally:
        release.set()
        await busy
    await socket.disconnect()


@pytest.mark.parametrize(
    "frame, status",
    [
        (b"garbage", 400),
        (b"\x85\x6f\x4a\x83", 400),
    ],
)
async def test_bad_frame_gets_an_error_and_the_socket_stays_usable(case, frame, status):
    await write(DOC, case["base"])
    socket = await connect()
    await socket.receive_from()

    await socket.send_to(bytes_data=frame)
    error = await socket.receive_json_from()

    assert error["type"] == "error"
    assert error["status"] == status
    assert error["error"]
    assert (await read(DOC)).data == case["base"]
    await socket.send_to(bytes_data=case["a1"])
    assert (await socket.receive_json_from())["type"] == "ack"
    await socket.disconnect()


async def test_change_with_missing_dependencies_gets_409_frame(case):
    await write(DOC, case["base"])
    socket = await connect()
    await socket.receive_from()

    await socket.send_to(bytes_data=case["c_orphan"])
    error = await socket.receive_json_from()

    assert error == {"type": "error", "status": 409, "error": error["error"]}
    assert "Automerge.save(doc)" in error["error"]
    await socket.disconnect()


async def test_frame_over_the_size_limit_gets_413_frame(case, settings):
    settings.TODOS_MAX_DOCUMENT_BYTES = 64
    socket = await connect()

    await socket.send_to(bytes_data=case["full_merged"])
    error = await socket.receive_json_from()

    assert error["status"] == 413
    assert await read(DOC) is None
    await socket.disconnect()


async def test_text_frame_gets_an_error(case):
    socket = await connect()

    await socket.send_to(text_data=json.dumps({"type": "hello"}))
    error = await socket.receive_json_from()

    assert error["type"] == "error"
    assert "binary frame" in error["error"]
    await socket.disconnect()


async def test_foreign_origin_is_rejected():
    communicator = WebsocketCommunicator(
        application, PATH, headers=[(b"origin", b"https://evil.example")]
    )

    connected, _ = await communicator.connect()

    assert not connected


@pytest.mark.parametrize("path", ["/ws/docs/../../etc", "/ws/docs/", "/ws/elsewhere"])
async def test_a_path_that_names_no_document_is_refused(path):
    communicator = WebsocketCommunicator(application, path, headers=[ORIGIN])

    connected, _ = await communicator.connect()

    assert not connected


async def test_closed_socket_leaves_its_group(case):
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    before = set(layer.groups.get(storage.group_name(DOC), {}))
    socket = await connect()
    during = set(layer.groups.get(storage.group_name(DOC), {}))
    await socket.disconnect()

    assert len(during - before) == 1
    assert set(layer.groups.get(storage.group_name(DOC), {})) == before


async def test_socket_whose_document_cannot_be_read_gets_503_and_leaves_its_group(
    monkeypatch,
):
    from channels.layers import get_channel_layer

    def unavailable(doc_id):
        raise storage.Unavailable()

    monkeypatch.setattr(storage, "read_document", unavailable)
    layer = get_channel_layer()
    before = set(layer.groups.get(storage.group_name(DOC), {}))

    socket = await connect()

    frame = await socket.receive_json_from()
    assert (frame["type"], frame["status"]) == ("error", 503)
    assert (await socket.receive_output())["type"] == "websocket.close"
    assert set(layer.groups.get(storage.group_name(DOC), {})) == before


async def test_a_push_during_the_first_read_follows_the_stored_document(
    case, monkeypatch
):
    """The stored document stays a socket's first frame: a push that arrives
    while it is read (the socket already takes pushes, so that none committed
    after the read is missed) is sent after it."""
    import asyncio

    from todos import consumers

    await write(DOC, case["base"])
    reading, release = asyncio.Event(), asyncio.Event()
    original = consumers.read_document

    async def slow_read(doc_id):
        reading.set()
        await release.wait()
        return await original(doc_id)

    monkeypatch.setattr(consumers, "read_document", slow_read)
    socket = await connect()
    await asyncio.wait_for(reading.wait(), 5)
    await write(DOC, case["a1"])  # pushed while the socket reads
    release.set()

    first = await socket.receive_from()
    assert first == (await read(DOC)).data
    pushed = await socket.receive_from()
    assert isinstance(pushed, bytes) and len(pushed) < len(first)
    assert json.loads(await socket.receive_from())["type"] == "update"
    await socket.disconnect()
