"""Django's ASGI handler with its middleware chain and views run in one thread hop.

Django's own ``ASGIHandler`` builds the chain for async: from the view outwards,
every middleware that can run async does, until one cannot (WhiteNoise's); the
view, a sync function, is then called from the event loop through
``sync_to_async``. Django's middleware in async mode runs each of its
``process_request`` and ``process_response`` in the request's thread, one
round trip between the event loop and that thread each: a dozen per request,
which cost more CPU than a small write itself (the 8-writer race in
docs/benchmarks.md). This handler builds the chain as a WSGI server would, all
sync, and calls it through one ``sync_to_async``: the request's thread runs
every middleware and the view in one go. Requests still each get their own
thread, as with Django's handler.
"""

from asgiref.sync import sync_to_async
from django.core.handlers import asgi

__all__ = ["ASGIHandler"]


class ASGIHandler(asgi.ASGIHandler):
    """Django's ASGIHandler, calling a sync middleware chain in one thread hop."""

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)
        self._middleware_chain = sync_to_async(
            self._middleware_chain, thread_sensitive=True
        )
