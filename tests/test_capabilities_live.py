"""Capabilities against a live Daphne: every write path tried with a view-only
token, over HTTP and the WebSocket; revocation and rotation seen by open sockets.

A view-only token reads (GET, the socket's first frame and its pushes) and
writes nothing: each write is a 403 with a JSON error or error frame, and the
stored bytes are byte-identical afterwards. A turned-off token is a 404, and
its open sockets are told and closed. After rotation the old edit id is a 410
everywhere, its open editor sockets are told the new id, and the list, its
view-only link included, carries on under the new id with nothing lost.
"""

import json
import secrets
import struct
import threading

import pytest

from tests import automerge_node
from tests.helpers.http import request, request_json
from tests.helpers.websocket import RawWebSocket

pytestmark = pytest.mark.live

OPCODE_TEXT, OPCODE_BINARY, OPCODE_CLOSE = 0x1, 0x2, 0x8


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return automerge_node.make_scenario(tmp_path_factory.mktemp("scenario"))


@pytest.fixture
def server(daphne_server):
    """A Daphne process of this test's own, on SQLite (tests/conftest.py)."""
    return daphne_server


@pytest.fixture
def shared(server, case):
    """A new list holding ``full_a``, with a view-only link: (edit id, token)."""
    doc_id = secrets.token_urlsafe(18)
    status, _, body = request(server, "PUT", f"/docs/{doc_id}", case["full_a"])
    assert status == 200, body
    status, link = request_json(server, "POST", f"/docs/{doc_id}/view-link")
    assert status == 201, link
    return doc_id, link["token"]


def stored(server, doc_id):
    status, _, body = request(server, "GET", f"/docs/{doc_id}")
    assert status == 200, body
    return body


def connect(server, path):
    return RawWebSocket(server.port, path, origin=server.url)


def receive_close(socket):
    """Read frames until the close frame; return (text frames, close code)."""
    texts = []
    while True:
        opcode, payload = socket.receive()
        if opcode == OPCODE_TEXT:
            texts.append(json.loads(payload))
        elif opcode == OPCODE_CLOSE:
            return texts, struct.unpack("!H", payload[:2])[0]


def test_a_view_token_reads_over_http_and_the_websocket_with_pushes(
    server, case, shared
):
    doc_id, token = shared
    status, headers, body = request(server, "GET", f"/shared/{token}")
    viewer = connect(server, f"/ws/shared/{token}")

    assert status == 200 and body == stored(server, doc_id)
    assert headers["Content-Type"] == "application/octet-stream"
    assert viewer.receive() == (OPCODE_BINARY, body)

    written, _, answer = request(server, "PUT", f"/docs/{doc_id}", case["b1"])
    assert written == 200, answer
    assert viewer.receive() == (OPCODE_BINARY, case["b1"])
    update = viewer.receive_json()
    assert update["type"] == "update"
    assert update["heads"] == json.loads(answer)["heads"]
    viewer.close()


def test_every_write_with_a_view_token_is_403_and_stores_nothing(server, case, shared):
    doc_id, token = shared
    before = stored(server, doc_id)
    http_writes = [
        ("PUT", f"/shared/{token}"),
        ("POST", f"/shared/{token}"),
        ("DELETE", f"/shared/{token}"),
        ("PUT", f"/docs/{token}"),
        ("POST", f"/docs/{token}"),
        ("POST", f"/docs/{token}/view-link"),
        ("DELETE", f"/docs/{token}/view-link"),
        ("POST", f"/docs/{token}/rotate"),
    ]
    for method, path in http_writes:
        status, answer = request_json(server, method, path, case["b1"])
        assert status == 403, (method, path, answer)
        assert "view-only" in answer["error"], (method, path)

    for path in (f"/ws/shared/{token}", f"/ws/docs/{token}"):
        socket_ = connect(server, path)
        if path.startswith("/ws/shared/"):
            assert socket_.receive() == (OPCODE_BINARY, before)
        socket_.send(case["b1"])
        frame = socket_.receive_json()
        assert frame["type"] == "error" and frame["status"] == 403, (path, frame)
        assert "view-only" in frame["error"]
        socket_.close()

    assert stored(server, doc_id) == before
    status, link = request_json(server, "GET", f"/docs/{doc_id}/view-link")
    assert status == 200 and link["token"] == token
    assert request(server, "GET", f"/docs/{token}")[0] == 404


def test_a_turned_off_token_is_404_and_its_open_sockets_are_closed(
    server, case, shared
):
    doc_id, token = shared
    viewer = connect(server, f"/ws/shared/{token}")
    editor = connect(server, f"/ws/docs/{doc_id}")
    assert viewer.receive()[0] == OPCODE_BINARY
    assert editor.receive()[0] == OPCODE_BINARY

    status, answer = request_json(server, "DELETE", f"/docs/{doc_id}/view-link")

    assert status == 200 and answer == {"revoked": True}
    frames, code = receive_close(viewer)
    assert code == 4404
    assert frames[-1]["type"] == "revoked" and frames[-1]["status"] == 404
    assert "turned off" in frames[-1]["error"]
    for path in (f"/shared/{token}", f"/view/{token}/"):
        assert request(server, "GET", path)[0] == 404, path
    late = connect(server, f"/ws/shared/{token}")
    frames, code = receive_close(late)
    assert code == 4404 and frames[0]["status"] == 404
    # The editor's socket stays open: the next write is pushed to it.
    assert request(server, "PUT", f"/docs/{doc_id}", case["b1"])[0] == 200
    assert editor.receive() == (OPCODE_BINARY, case["b1"])
    editor.close()


def test_after_rotation_the_old_id_is_410_and_nothing_is_lost(server, case, shared):
    doc_id, token = shared
    before = stored(server, doc_id)
    editor = connect(server, f"/ws/docs/{doc_id}")
    viewer = connect(server, f"/ws/shared/{token}")
    assert editor.receive() == (OPCODE_BINARY, before)
    assert viewer.receive() == (OPCODE_BINARY, before)

    status, moved = request_json(server, "POST", f"/docs/{doc_id}/rotate")

    new_id = moved["doc_id"]
    assert status == 200 and new_id != doc_id
    frames, code = receive_close(editor)
    assert frames == [{"type": "moved", "doc_id": new_id}] and code == 4410
    assert stored(server, new_id) == before
    for method, body in (("GET", b""), ("PUT", case["b1"]), ("POST", case["b1"])):
        status, answer = request_json(server, method, f"/docs/{doc_id}", body)
        assert status == 410, (method, answer)
        assert new_id not in json.dumps(answer)
    late = connect(server, f"/ws/docs/{doc_id}")
    frames, _ = receive_close(late)
    assert frames[0]["status"] == 410 and new_id not in json.dumps(frames)

    # The list carries on under the new id, and its view-only link with it.
    written, _, answer = request(server, "PUT", f"/docs/{new_id}", case["b1"])
    assert written == 200, answer
    assert viewer.receive() == (OPCODE_BINARY, case["b1"])
    doc = automerge_node.inspect(stored(server, new_id))["doc"]
    assert sorted(item["text"] for item in doc["items"]) == ["eggs", "milk"]
    assert request(server, "GET", f"/shared/{token}")[2] == stored(server, new_id)
    viewer.close()


WRITERS = 12
MAKE_WRITES = """
import * as Automerge from '@automerge/automerge'
const b64 = bytes => Buffer.from(bytes).toString('base64')
const base = Automerge.from({ title: 'Race', items: [] }, { actor: 'aa'.repeat(16) })
const out = { base: b64(Automerge.save(base)) }
for (let i = 0; i < %d; i++) {
  const actor = (i + 16).toString(16).padStart(2, '0').repeat(16)
  const mine = Automerge.change(Automerge.clone(base, { actor }), d => {
    d.items.push({ text: `item ${i}`, done: false })
  })
  out[`w${i}`] = b64(Automerge.getLastLocalChange(mine))
}
process.stdout.write(JSON.stringify(out))
"""


def test_writes_racing_a_rotation_on_postgres_are_410_or_kept(
    live_server_factory, postgres_database
):
    """Each write to the old id during a rotation is stored (and moved) or 410.

    Writers whose write came back 410 send it again to the new id, as an open
    editor does after following the move: every item ends up in the list.
    """
    made = automerge_node.run_script(MAKE_WRITES % WRITERS)
    server = live_server_factory(database_url=postgres_database)
    old_id = secrets.token_urlsafe(18)
    assert request(server, "PUT", f"/docs/{old_id}", made["base"])[0] == 200
    new_id, statuses = [], {}
    start = threading.Barrier(WRITERS + 1)

    def write(i):
        start.wait()
        status = request(server, "PUT", f"/docs/{old_id}", made[f"w{i}"])[0]
        statuses[i] = status
        if status == 410:
            rotated.wait()
            assert request(server, "PUT", f"/docs/{new_id[0]}", made[f"w{i}"])[0] == 200

    rotated = threading.Event()
    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    start.wait()
    status, moved = request_json(server, "POST", f"/docs/{old_id}/rotate")
    new_id.append(moved["doc_id"])
    rotated.set()
    for thread in threads:
        thread.join(60)

    assert status == 200
    assert set(statuses.values()) <= {200, 410}, statuses
    doc = automerge_node.inspect(stored(server, new_id[0]))["doc"]
    texts = sorted(item["text"] for item in doc["items"])
    assert texts == sorted(f"item {i}" for i in range(WRITERS))
    assert request(server, "GET", f"/docs/{old_id}")[0] == 410
