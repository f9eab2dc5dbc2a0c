"""todo_site/asgi_handler.py: a request runs sync, in one hop to a kept thread."""

import asyncio
import threading

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.handlers import asgi
from django.core.signals import request_finished, request_started
from django.db import connection
from django.utils.deprecation import MiddlewareMixin

from todo_site.asgi_handler import ASGIHandler


def middleware_modes(monkeypatch, handler_class):
    """Build ``handler_class``; return {middleware class name: async mode}."""
    modes = {}
    original = MiddlewareMixin.__init__

    def record(self, get_response):
        original(self, get_response)
        modes[type(self).__name__] = self.async_mode

    monkeypatch.setattr(MiddlewareMixin, "__init__", record)
    handler_class()
    return modes


def test_every_middleware_runs_in_sync_mode(monkeypatch):
    modes = middleware_modes(monkeypatch, ASGIHandler)

    assert "SessionMiddleware" in modes and "XFrameOptionsMiddleware" in modes
    assert not any(modes.values()), modes


def test_djangos_own_handler_would_run_them_in_async_mode(monkeypatch):
    modes = middleware_modes(monkeypatch, asgi.ASGIHandler)

    assert modes["SessionMiddleware"] and modes["XFrameOptionsMiddleware"]


async def test_a_request_gets_the_views_answer_through_the_middleware():
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/docs/not/a/document",
        "raw_path": b"/docs/not/a/document",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    communicator = ApplicationCommunicator(ASGIHandler(), scope)
    await communicator.send_input({"type": "http.request", "body": b""})

    start = await communicator.receive_output(5)
    body = await communicator.receive_output(5)

    headers = dict(start["headers"])
    assert start["status"] == 404
    assert b"Not a document address" in body["body"]
    assert b"Content-Security-Policy" in headers  # the outermost middleware's
    assert headers[b"X-Frame-Options"] == b"DENY"  # the innermost one's


# A kept thread counts as idle only a moment after its answer is out; a request
# sent sooner may get a new thread (the pool grows up to TODOS_REQUEST_THREADS).
IDLE_SECONDS = 0.05


def http_scope(path):
    """An ASGI HTTP scope for a GET of ``path``."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


async def get(handler, path):
    """GET ``path`` through ``handler``; (status, body)."""
    communicator = ApplicationCommunicator(handler, http_scope(path))
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(5)
    body = b""
    while True:
        message = await communicator.receive_output(5)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(5)
    return start["status"], body


class SignalThreads:
    """Records the thread (and its database connection) of each request signal."""

    def __init__(self):
        self.started, self.finished = [], []

    def on_started(self, **kwargs):
        self.started.append(threading.get_ident())

    def on_finished(self, **kwargs):
        self.finished.append((threading.get_ident(), id(connection.connection)))

    def __enter__(self):
        request_started.connect(self.on_started)
        request_finished.connect(self.on_finished)
        return self

    def __exit__(self, *exc):
        request_started.disconnect(self.on_started)
        request_finished.disconnect(self.on_finished)


async def test_a_request_starts_and_finishes_in_one_kept_thread_off_the_loop():
    handler = ASGIHandler()
    with SignalThreads() as threads:
        for _ in range(3):
            status, _ = await get(handler, "/docs/not/a/document")
            assert status == 404
            await asyncio.sleep(IDLE_SECONDS)

    assert len(threads.started) == len(threads.finished) == 3
    assert threads.started == [thread for thread, _ in threads.finished]
    # One request at a time: the idle kept thread serves the next one.
    assert len(set(threads.started)) == 1
    assert threading.get_ident() not in threads.started


@pytest.mark.django_db(transaction=True)
async def test_a_kept_thread_keeps_its_database_connection_between_requests():
    handler = ASGIHandler()
    with SignalThreads() as threads:
        for _ in range(3):
            status, body = await get(handler, "/readyz")
            assert status == 200, body
            await asyncio.sleep(IDLE_SECONDS)

    (thread, connection_id), *later = threads.finished
    assert connection_id != id(None)
    assert later == [(thread, connection_id)] * 2


async def test_a_streamed_response_is_sent_whole_then_closed_in_a_kept_thread():
    handler = ASGIHandler()
    with SignalThreads() as threads:
        status, body = await get(handler, "/sw.js")  # a FileResponse: streamed

    assert status == 200 and b"self.addEventListener" in body
    assert len(threads.finished) == 1
    assert threads.finished[0][0] != threading.get_ident()


async def test_a_request_whose_client_leaves_is_still_finished_in_its_thread():
    handler = ASGIHandler()
    with SignalThreads() as threads:
        communicator = ApplicationCommunicator(handler, http_scope("/sw.js"))
        await communicator.send_input({"type": "http.request", "body": b""})
        await communicator.send_input({"type": "http.disconnect"})
        await communicator.wait(5)
        for _ in range(100):
            if threads.finished:
                break
            await asyncio.sleep(IDLE_SECONDS)

    assert len(threads.started) == len(threads.finished) == 1
    assert threads.finished[0][0] == threads.started[0]
