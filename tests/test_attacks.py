"""Attacks on the engine's validation, against a live Daphne.

Each upload below is well-formed Automerge data (checksums and hashes repaired,
see ``tests/helpers/attacks.py``) that the real Automerge engine cannot take: it
panics on it, applies it into a document that fails save() -> load(), or it
reuses an actor's seq for different content, or it is a text bomb. The server
must refuse each with a JSON error a person can act on (422, 409, 413), over HTTP
and, where noted, as an error frame on the live channel; leave the stored bytes
byte-identical; keep the engine's panics out of the answer and out of its log;
and then accept a genuine edit, which a GET and ``Automerge.load`` in Node show.
The first test (no server) checks that each attack does to @automerge/automerge
what it is meant to do, so a failure below is the server's, not the attack's.
"""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import automerge_node
from tests.helpers import attacks, http
from tests.test_security import RawWebSocket

DOC = "attacked"
BYSTANDER = "bystander"
OPCODE_TEXT, OPCODE_BINARY, OPCODE_PING = 0x1, 0x2, 0x9
# What must never reach the server's log: a Rust panic or a Python traceback.
LOG_MARKERS = ("panicked at", "stack backtrace", "Traceback")
BOMB_ANSWER_SECONDS = 3.0
BYSTANDER_GET_SECONDS = 1.0
MAX_SERVER_RSS_BYTES = 1024**3
RACING_EDITS = 8


@pytest.fixture(scope="module")
def made():
    """The stored document, the genuine edits and the crafted uploads (bytes)."""
    return attacks.make_attacks()


@pytest.fixture(scope="module")
def text_bomb(made):
    """A ~3 KB compressed change inserting 3,000,000 characters into the list."""
    return attacks.make_text_bomb(made["stored"])


@pytest.fixture
def server(live_server_factory, made):
    """A Daphne process storing the document under DOC (and under BYSTANDER)."""
    server = live_server_factory()
    for doc_id in (DOC, BYSTANDER):
        status, _, body = request(server, "PUT", f"/docs/{doc_id}", made["stored"])
        assert status == 200, body
    return server


# --- talking to the server ---------------------------------------------------------


def request(server, method, path, body=b""):
    """One HTTP request; return (status, content type, body)."""
    status, headers, data = http.request(server, method, path, body)
    return status, headers.get("Content-Type"), data


def stored_bytes(server, doc_id=DOC):
    status, _, body = request(server, "GET", f"/docs/{doc_id}")
    assert status == 200, body
    return body


class HttpUploads:
    """Uploads as PUT requests; ``send`` returns (status, JSON answer)."""

    def __init__(self, server, doc_id=DOC):
        self.server, self.doc_id = server, doc_id

    def send(self, body):
        status, content_type, answer = request(
            self.server, "PUT", f"/docs/{self.doc_id}", body
        )
        assert content_type == "application/json", (status, answer[:300])
        return status, json.loads(answer)

    def close(self):
        pass


class SocketUploads:
    """Uploads as binary frames on one socket, which must stay open after errors.

    ``send`` returns (status, frame): 200 for an ack, else the error frame's status.
    """

    def __init__(self, server, doc_id=DOC):
        self.socket = RawWebSocket(server.port, f"/ws/docs/{doc_id}", server.url)
        assert self.socket.status == 101
        opcode, first = self.receive()
        assert opcode == OPCODE_BINARY  # the stored document comes first
        self.first_frame = first

    def receive(self):
        while True:
            opcode, payload = self.socket.receive()
            if opcode != OPCODE_PING:
                return opcode, payload

    def send(self, body):
        self.socket.send(body)
        opcode, payload = self.receive()
        assert opcode == OPCODE_TEXT, (opcode, payload[:300])
        frame = json.loads(payload)
        if frame["type"] == "ack":
            return 200, frame
        assert frame["type"] == "error", frame
        return frame["status"], frame

    def close(self):
        self.socket.close()


TRANSPORTS = {"http": HttpUploads, "websocket": SocketUploads}


@pytest.fixture(params=sorted(TRANSPORTS))
def uploads(request, server):
    """The same uploads over HTTP PUT or over the live channel."""
    channel = TRANSPORTS[request.param](server)
    yield channel
    channel.close()


# --- what every refusal must satisfy -----------------------------------------------


def assert_refused(channel, body, status, before, server):
    """``body`` is refused with ``status`` and an error message; nothing changes."""
    answer_status, answer = channel.send(body)
    assert answer_status == status, answer
    assert isinstance(answer["error"], str) and answer["error"].strip(), answer
    assert stored_bytes(server) == before
    assert_clean_log(server)


def assert_clean_log(server):
    """No Rust panic, backtrace or Python traceback was written to the server log."""
    log = server.log_path.read_text(errors="replace")
    for marker in LOG_MARKERS:
        assert marker not in log, log[-3000:]


def assert_genuine_edit_lands(channel, server, change, keeps=(), lacks=()):
    """A genuine change on top of the stored document is accepted and stored.

    The document is then loaded by the real Automerge in Node: it holds the
    genuine edit and every text of ``keeps``, none of ``lacks``.
    """
    status, answer = channel.send(change)
    assert status == 200, answer
    assert answer["changed"] is True, answer
    texts = item_texts(server)
    assert attacks.GENUINE_TEXT in texts
    for text in keeps:
        assert text in texts
    for text in lacks:
        assert text not in texts
    assert_clean_log(server)


def item_texts(server, doc_id=DOC):
    loaded = automerge_node.inspect(stored_bytes(server, doc_id))
    return [item["text"] for item in loaded["doc"]["items"]]


# --- the attacks -------------------------------------------------------------------


def test_the_real_automerge_cannot_take_the_crafted_uploads(made):
    # The attacks are what they claim to be, in @automerge/automerge (JS): the
    # poisoned insert and the op on a missing object panic, the op on a text and
    # the wrong predecessor make a document that fails save() -> load(). The
    # genuine edits, and each twin alone, are fine.
    names = ["poisoned_insert", "op_on_a_text", "op_on_a_missing_object"]
    names += ["bad_pred", "genuine", "first", "second"]

    verdicts = attacks.verdicts_of_automerge(
        made["stored"], {name: made[name] for name in names}
    )

    assert verdicts["poisoned_insert"].startswith("apply: PanicError"), verdicts
    assert verdicts["op_on_a_missing_object"].startswith("apply: PanicError")
    assert "missing ops" in verdicts["op_on_a_text"], verdicts
    assert "mismatching heads" in verdicts["bad_pred"], verdicts
    assert verdicts["op_on_a_text"].startswith("reload: ")
    assert verdicts["bad_pred"].startswith("reload: ")
    for name in ("genuine", "first", "second"):
        assert verdicts[name] == "ok", verdicts


@pytest.mark.live
def test_an_insert_after_a_missing_element_gets_422_and_changes_nothing(
    uploads, server, made
):
    # Automerge panics on this change: "assertion failed: self.entry.is_empty()".
    before = stored_bytes(server)

    assert_refused(uploads, made["poisoned_insert"], 422, before, server)

    assert_genuine_edit_lands(uploads, server, made["genuine"])


@pytest.mark.live
@pytest.mark.parametrize("attack", ["op_on_a_text", "op_on_a_missing_object"])
def test_an_op_on_a_missing_or_wrong_kind_of_object_gets_422_and_changes_nothing(
    server, made, attack
):
    # A `done` toggle rewritten to act on items[1].text (applied, then save() ->
    # load() fails: "missing ops") or on object 99999@aa... (a panic: "Missing
    # from Index").
    channel = HttpUploads(server)
    before = stored_bytes(server)

    assert_refused(channel, made[attack], 422, before, server)

    assert_genuine_edit_lands(channel, server, made["genuine"])


@pytest.mark.live
def test_an_overwrite_with_a_wrong_predecessor_gets_422_and_changes_nothing(
    uploads, server, made
):
    # Both Automerge implementations apply it; the document it makes then fails
    # save() -> load() with "mismatching heads".
    before = stored_bytes(server)

    assert_refused(uploads, made["bad_pred"], 422, before, server)

    assert_genuine_edit_lands(uploads, server, made["genuine"])


@pytest.mark.live
def test_a_second_change_with_the_same_actor_and_seq_gets_409_and_the_first_stays(
    uploads, server, made
):
    status, answer = uploads.send(made["first"])
    assert status == 200 and answer["changed"] is True, answer
    before = stored_bytes(server)
    assert attacks.FIRST_TEXT in item_texts(server)

    assert_refused(uploads, made["second"], 409, before, server)

    assert_genuine_edit_lands(
        uploads,
        server,
        made["genuine_after_first"],
        keeps=[attacks.FIRST_TEXT],
        lacks=[attacks.SECOND_TEXT],
    )


@pytest.mark.live
def test_a_text_bomb_is_refused_quickly_in_bounded_memory_without_stalling_others(
    server, made, text_bomb
):
    assert len(text_bomb) < 8 * 1024  # about 3 KB for 3,000,000 characters
    before = stored_bytes(server)
    pid = server.process.pid
    answered = {}

    def send_bomb():
        started = time.monotonic()
        answered["answer"] = request(server, "PUT", f"/docs/{DOC}", text_bomb)
        answered["seconds"] = time.monotonic() - started

    bomb = threading.Thread(target=send_bomb)
    bomb.start()
    gets, peak_rss = [], 0
    while bomb.is_alive() or not gets:
        started = time.monotonic()
        status, _, body = request(server, "GET", f"/docs/{BYSTANDER}")
        gets.append((time.monotonic() - started, status))
        peak_rss = max(peak_rss, memory_bytes(pid, "VmRSS"))
        assert body == made["stored"]
    bomb.join()

    status, content_type, body = answered["answer"]
    assert 400 <= status < 500, (status, body[:300])  # 413 expected
    assert content_type == "application/json"
    assert json.loads(body)["error"].strip()
    assert answered["seconds"] < BOMB_ANSWER_SECONDS, answered["seconds"]
    assert max(seconds for seconds, _ in gets) < BYSTANDER_GET_SECONDS, gets
    assert all(status == 200 for _, status in gets), gets
    assert peak_rss < MAX_SERVER_RSS_BYTES, peak_rss
    assert memory_bytes(pid, "VmHWM") < MAX_SERVER_RSS_BYTES
    assert stored_bytes(server) == before
    assert_clean_log(server)
    assert_genuine_edit_lands(HttpUploads(server), server, made["genuine"])


def memory_bytes(pid, field):
    """``field`` (VmRSS, VmHWM) of process ``pid``, from /proc, in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_crafted_uploads_racing_genuine_ones_are_refused_alone(server, made):
    """Concurrent writes to one list are committed together (group commit): a
    refused upload among them fails only itself."""
    edits = attacks.make_edits(made["stored"], RACING_EDITS)
    uploads = [*edits.values(), made["poisoned_insert"], made["bad_pred"]]
    start = threading.Barrier(len(uploads))

    def send(body):
        start.wait(10)
        status, _, answer = request(server, "PUT", f"/docs/{DOC}", body)
        return status, json.loads(answer)

    with ThreadPoolExecutor(len(uploads)) as pool:
        answers = list(pool.map(send, uploads))

    statuses = [status for status, _ in answers]
    assert statuses == [200] * RACING_EDITS + [422, 422], answers
    assert all(answer["changed"] for _, answer in answers[:RACING_EDITS]), answers
    assert set(edits) <= set(item_texts(server))
    assert_clean_log(server)
