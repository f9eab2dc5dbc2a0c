"""Request bodies over TODOS_MAX_DOCUMENT_BYTES are refused before they are read.

In-process: the ASGI middleware (``todo_site.body_limit.BodyLimit``). Against a live
Daphne: its request class (``BoundedWebRequest``) answers 413 while the body is
still arriving, so a 512 MiB upload costs the server almost nothing.
"""

import asyncio
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from todo_site.body_limit import BodyLimit

LIMIT = 1024 * 1024  # TODOS_MAX_DOCUMENT_BYTES of the live servers here
MIB = 1024 * 1024


# --- the ASGI middleware --------------------------------------------------------------


class Recorder:
    """An inner ASGI app that reads the whole body, then answers 200."""

    def __init__(self):
        self.called = False
        self.messages = []

    async def __call__(self, scope, receive, send):
        self.called = True
        while True:
            message = await receive()
            self.messages.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def http_scope(headers=()):
    return {"type": "http", "method": "PUT", "path": "/docs/x", "headers": headers}


def run(app, scope, chunks):
    """Run ``app``; return (messages sent, number of body chunks it pulled).

    In a thread of its own, with its own event loop: Playwright's sync API (the
    browser tests, earlier in the session) leaves the main thread's loop marked
    as running, and asyncio refuses to start another there.
    """
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, drive(app, scope, chunks)).result()


async def drive(app, scope, chunks):
    pulled = 0
    sent = []

    async def receive():
        nonlocal pulled
        if pulled < len(chunks):
            pulled += 1
            return {
                "type": "http.request",
                "body": chunks[pulled - 1],
                "more_body": pulled < len(chunks),
            }
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent, pulled


def status_and_error(sent):
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1, sent
    body = b"".join(m.get("body", b"") for m in sent if m["type"].endswith(".body"))
    return starts[0]["status"], body


def test_a_declared_length_over_the_limit_is_refused_without_reading():
    inner = Recorder()
    scope = http_scope([(b"content-length", str(512 * MIB).encode())])

    sent, pulled = run(BodyLimit(inner, limit=LIMIT), scope, [b"x" * 1024])

    status, body = status_and_error(sent)
    assert status == 413
    assert "TODOS_MAX_DOCUMENT_BYTES" in json.loads(body)["error"]
    assert pulled == 0 and not inner.called


def test_a_streamed_body_is_cut_off_as_soon_as_it_passes_the_limit():
    inner = Recorder()
    chunks = [b"x" * (256 * 1024)] * 16  # 4 MiB in all, no Content-Length

    sent, pulled = run(BodyLimit(inner, limit=LIMIT), http_scope(), chunks)

    status, body = status_and_error(sent)
    assert status == 413 and json.loads(body)["error"]
    assert pulled == 5  # the fifth chunk passes 1 MiB; nothing after it is read
    assert inner.messages[-1] == {"type": "http.disconnect"}


def test_bodies_within_the_limit_pass_through():
    inner = Recorder()
    chunks = [b"x" * (512 * 1024), b"y" * (512 * 1024)]  # exactly the limit
    scope = http_scope([(b"content-length", str(LIMIT).encode())])

    sent, pulled = run(BodyLimit(inner, limit=LIMIT), scope, chunks)

    assert status_and_error(sent) == (200, b"ok")
    assert pulled == 2
    assert b"".join(m["body"] for m in inner.messages) == b"".join(chunks)


def test_other_scopes_are_not_touched():
    seen = []

    async def inner(scope, receive, send):
        seen.append(scope["type"])

    for kind in ("websocket", "lifespan"):
        run(BodyLimit(inner, limit=1), {"type": kind}, [])

    assert seen == ["websocket", "lifespan"]


# --- a live Daphne --------------------------------------------------------------------


def rss_bytes(pid):
    """The resident set size of process ``pid``, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def read_response(sock):
    """Read until the server closes; return (status, headers text, body)."""
    data = b""
    while True:
        part = sock.recv(65536)
        if not part:
            break
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, head.decode("latin-1"), body


def request_head(server, method, path, headers):
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.fixture
def server(live_server_factory):
    return live_server_factory(TODOS_MAX_DOCUMENT_BYTES=LIMIT)


def settle(server):
    """A few requests first, so what is loaded lazily is loaded before measuring."""
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            head = {"Content-Length": 3, "Connection": "close"}
            sock.sendall(request_head(server, "PUT", "/docs/warm-up", head) + b"abc")
            assert read_response(sock)[0] == 400
    time.sleep(0.5)


@pytest.mark.live
def test_a_512_mib_upload_is_refused_before_it_is_read(server):
    settle(server)
    before = rss_bytes(server.process.pid)

    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            request_head(
                server,
                "PUT",
                "/docs/huge",
                {
                    "Content-Type": "application/octet-stream",
                    "Content-Length": 512 * MIB,
                },
            )
        )
        sock.sendall(b"\0" * 8192)  # a few KB of the body, then wait for the answer
        status, head, body = read_response(sock)

    growth = rss_bytes(server.process.pid) - before
    assert status == 413
    assert "application/json" in head
    assert "TODOS_MAX_DOCUMENT_BYTES" in json.loads(body)["error"]
    assert growth < 20 * MIB, growth
    server.stop()
    assert "Traceback" not in server.log_path.read_text()


@pytest.mark.live
def test_a_chunked_upload_is_cut_off_when_it_passes_the_limit(server):
    settle(server)
    before = rss_bytes(server.process.pid)
    chunk = b"\0" * 65536
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            request_head(
                server,
                "PUT",
                "/docs/streamed",
                {
                    "Content-Type": "application/octet-stream",
                    "Transfer-Encoding": "chunked",
                },
            )
        )
        # Stream past the limit (no end marker), then read the answer.
        while sent <= LIMIT + len(chunk):
            sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            sent += len(chunk)
        status, head, body = read_response(sock)

    assert status == 413
    assert json.loads(body)["error"]
    assert rss_bytes(server.process.pid) - before < 20 * MIB
    # The server is still up, and a chunked body within the limit reaches the view.
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            request_head(
                server,
                "PUT",
                "/docs/streamed",
                {"Transfer-Encoding": "chunked", "Connection": "close"},
            )
            + b"3\r\nabc\r\n0\r\n\r\n"
        )
        status, _, body = read_response(sock)
    assert status == 400
    assert "not valid Automerge" in json.loads(body)["error"]
    server.stop()
    assert "Traceback" not in server.log_path.read_text()


@pytest.mark.live
def test_expect_continue_gets_the_413_instead_of_100(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            request_head(
                server,
                "PUT",
                "/docs/huge",
                {"Content-Length": 2 * LIMIT, "Expect": "100-continue"},
            )
        )
        status, head, body = read_response(sock)

    assert status == 413  # not "100 Continue": the client need not send anything
    assert "100 Continue" not in head and b"100 Continue" not in body
