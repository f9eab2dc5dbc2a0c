"""todo_site/asgi_handler.py: the middleware chain runs sync, in one thread hop."""

from asgiref.testing import ApplicationCommunicator
from django.core.handlers import asgi
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
