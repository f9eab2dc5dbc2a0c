"""todo_site/middleware.py: OneThread keeps the middleware chain out of async mode."""

from django.core.handlers.asgi import ASGIHandler
from django.utils.deprecation import MiddlewareMixin


def middleware_modes(monkeypatch):
    """Build Django's ASGI handler; return {middleware class name: async mode}."""
    modes = {}
    original = MiddlewareMixin.__init__

    def record(self, get_response):
        original(self, get_response)
        modes[type(self).__name__] = self.async_mode

    monkeypatch.setattr(MiddlewareMixin, "__init__", record)
    ASGIHandler()
    return modes


def test_under_asgi_django_runs_every_middleware_in_sync_mode(monkeypatch):
    modes = middleware_modes(monkeypatch)

    assert "SessionMiddleware" in modes and "XFrameOptionsMiddleware" in modes
    assert not any(modes.values()), modes


def test_without_one_thread_django_would_hop_threads_per_middleware(
    monkeypatch, settings
):
    settings.MIDDLEWARE = [
        name for name in settings.MIDDLEWARE if name != "todo_site.middleware.OneThread"
    ]

    modes = middleware_modes(monkeypatch)

    assert modes["SessionMiddleware"] and modes["XFrameOptionsMiddleware"]
