"""Django's ASGI handler with a whole request served in one hop to a kept thread.

Django's own ``ASGIHandler`` builds the chain for async: from the view outwards,
every middleware that can run async does, until one cannot (WhiteNoise's); the
view, a sync function, is then called from the event loop through
``sync_to_async``. Django's middleware in async mode runs each of its
``process_request`` and ``process_response`` in the request's thread, one
round trip between the event loop and that thread each: a dozen per request,
and each request gets a new thread (started and joined), which opens a new
database connection. Together they cost more CPU than a small write itself
(the 8-writer race in docs/benchmarks.md).

This handler builds the chain as a WSGI server would, all sync, and serves a
request in one call to a pool of ``TODOS_REQUEST_THREADS`` kept threads
(``_serve``): the ``request_started`` signal, building the request, the
middleware and the view, and, for a response that is not streamed, its
``close()`` (the ``request_finished`` signal). The event loop only reads the
body and sends the answer. Each kept thread keeps its database connection
between requests under Django's usual rules, as a threaded WSGI server's
threads do: ``request_started`` and ``request_finished`` run
``close_old_connections``, which keeps a connection only while it is usable and
younger than ``CONN_MAX_AGE`` (SQLite here keeps it; with PostgreSQL's pool
``close()`` hands it back to the pool at the end of each request). A streamed
response is closed after it is sent, in the pool too.

A request whose client disconnects is abandoned by the event loop as in
Django's handler; its thread still finishes the view, and the response is
closed, a streamed one included (``_Handoff``).
"""

import asyncio
import functools
import threading
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import asgi
from django.http import FileResponse
from django.urls import set_script_prefix

__all__ = ["ASGIHandler", "request_threads", "stop_request_threads"]

_executor = None
_executor_lock = threading.Lock()


def request_threads():
    """The process's pool of kept request threads (made on first use)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=getattr(settings, "TODOS_REQUEST_THREADS", 64),
                thread_name_prefix="request",
            )
        return _executor


def stop_request_threads():
    """Let the kept threads finish their requests and end; the next makes a pool.

    A thread's database connection goes with it. Tests call this so that no
    connection outlives the test whose database it belongs to.
    """
    global _executor
    with _executor_lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True)


def in_request_thread(function, *args):
    """An awaitable of ``function(*args)`` run in a kept request thread."""
    call = functools.partial(function, *args)
    return SyncToAsync(call, thread_sensitive=False, executor=request_threads())()


class ASGIHandler(asgi.ASGIHandler):
    """Django's ASGIHandler, serving each request in one hop to a kept thread."""

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def handle(self, scope, receive, send):
        """Read the body, serve the request in a kept thread, send the answer."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(asgi.get_script_prefix(scope))
        serving = asyncio.create_task(self._answer(scope, body_file, send))
        listening = asyncio.create_task(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait(
                [listening, serving], return_when=asyncio.FIRST_COMPLETED
            )
            for task in (listening, serving):
                if not task.done():
                    task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, RequestAborted):
                    pass
        finally:
            body_file.close()

    async def _answer(self, scope, body_file, send):
        handoff = _Handoff()
        try:
            response = await in_request_thread(self._serve, scope, body_file, handoff)
        except asyncio.CancelledError:
            handoff.abandon()
            raise
        try:
            await self.send_response(response, send)
        except asyncio.CancelledError:
            pass  # the client went away while we sent
        finally:
            if response.streaming:
                await in_request_thread(response.close)

    def _serve(self, scope, body_file, handoff):
        """Run in a kept thread: a request's whole Django side but the sending."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if not response.streaming or not handoff.hand(response):
            response.close()
        return response


class _Handoff:
    """A streamed response passed from its thread to the event loop, which may leave.

    Whichever comes second closes the response: the thread, if the event loop
    has abandoned the request, or the event loop, when it abandons a request
    whose response was handed over but not yet sent (it was cancelled while
    waiting for the thread's result).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._abandoned = False
        self._response = None

    def hand(self, response):
        """Pass ``response`` on; False if nobody will take it (close it yourself)."""
        with self._lock:
            self._response = response
            return not self._abandoned

    def abandon(self):
        """The event loop will not send the response: close one already handed."""
        with self._lock:
            self._abandoned = True
            response, self._response = self._response, None
        if response is not None:
            request_threads().submit(response.close)
