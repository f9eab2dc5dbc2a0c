"""Presence clients for tests and benchmarks against live Daphne: raw sockets
that speak presence (todos/presence/) and wait for the count they expect."""

import json
import time

from tests.helpers.websocket import RawWebSocket

OPCODE_TEXT = 0x1
SPEAK = json.dumps({"type": "presence", "editing": None}).encode()


def join(server, doc_id, path="docs"):
    """A socket on ``doc_id`` (or a view token, path="shared") that speaks presence."""
    ws = RawWebSocket(server.port, f"/ws/{path}/{doc_id}", origin=server.url)
    assert ws.status == 101, ws.status
    announce(ws)
    return ws


def announce(ws, editing=None):
    """Send this socket's presence frame (a heartbeat, or what it edits)."""
    frame = json.dumps({"type": "presence", "editing": editing}).encode()
    ws.send(frame, opcode=OPCODE_TEXT)


def wait_for_others(ws, count, timeout=10.0):
    """Read frames until a presence frame shows ``count`` others; return them."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(
                f"no presence frame with {count} others in {timeout} s"
            )
        ws.sock.settimeout(left)
        try:
            opcode, payload = ws.receive()
        except TimeoutError:
            continue
        if opcode != OPCODE_TEXT:
            continue
        frame = json.loads(payload)
        if frame.get("type") == "presence" and len(frame["others"]) == count:
            return frame["others"]
