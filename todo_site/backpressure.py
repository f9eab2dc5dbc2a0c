"""Backpressure for HTTP responses under Daphne: ``send`` waits while clients are slow.

Daphne hands every ``http.response.body`` message straight to Twisted, whose
transport buffers whatever it is given, without limit, and ``send`` returns at
once. A streamed response to a client that reads slowly would therefore still
end up whole in the server's memory, only in Daphne's buffers instead of the
view's. ``install_in_daphne()`` adds what ASGI servers such as uvicorn do:

- When a response starts, a ``TransportGate`` is registered as the request's
  streaming producer (Twisted's ``IPushProducer``): the transport pauses it when
  its write buffer is full and resumes it when the buffer has drained.
- After Daphne has written a body message, the application's ``send`` awaits
  the gate, so the next piece is produced (read from the database) only when
  the client has taken the previous one. A slow reader costs the server one
  piece plus Twisted's buffer (64 KiB), however large the response.
- When the connection is lost the transport stops the gate, which then stays
  open (Daphne drops whatever is still sent, and Django, told that the client
  is gone, stops the response).
- An application that fails after its response has started (a streamed
  document whose version was replaced mid-read, todos/views.py) gets its
  connection aborted: the client sees a broken read, where Daphne would try
  to send a 500 page after the headers and leave the connection hanging.

It patches ``daphne.server.Server.handle_reply`` (the coroutine behind every
``send``) and the request class's ``handle_exception``; both are part of
Daphne's small server interface and stable since Daphne 2. It applies to every
way Daphne is started here: ``make run``, the production recipe, the tests'
live servers, since each loads ``todo_site.asgi`` (which calls it) first.
"""

import asyncio
import logging

from daphne import http_protocol, server
from twisted.internet.interfaces import IPushProducer
from twisted.web.http import Request
from zope.interface import implementer

logger = logging.getLogger(__name__)


@implementer(IPushProducer)
class TransportGate:
    """Open while the transport can take more; ``wait()`` returns when it is open."""

    def __init__(self, paused=False):
        self.paused = paused
        self.closed = False
        self._waiters = []

    def pauseProducing(self):
        self.paused = True

    def resumeProducing(self):
        self.paused = False
        self._wake()

    def stopProducing(self):
        self.closed = True
        self._wake()

    async def wait(self):
        """Return once the transport can take more (or the connection is gone)."""
        while self.paused and not self.closed:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    def _wake(self):
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


def open_gate(request):
    """Register a TransportGate on Daphne's ``request``; return it."""
    # The channel may have been paused before this response began.
    paused = bool(getattr(request.channel, "_waitingForTransport", False))
    gate = TransportGate(paused)
    request.registerProducer(gate, True)
    request.transport_gate = gate
    return gate


def close_gate(request):
    """Unregister ``request``'s gate, if it has one (before the response finishes)."""
    gate = getattr(request, "transport_gate", None)
    if gate is not None:
        request.transport_gate = None
        if request.producer is gate:
            request.unregisterProducer()
        gate.stopProducing()


_daphne_handle_reply = server.Server.handle_reply


async def handle_reply(self, protocol, message):
    """Daphne's ``send``: hand ``message`` to Twisted, then wait while it is full."""
    if not isinstance(protocol, Request):  # a WebSocket: Daphne's own flow control
        return await _daphne_handle_reply(self, protocol, message)
    kind = message.get("type")
    last_body = kind == "http.response.body" and not message.get("more_body", False)
    if last_body:
        close_gate(protocol)  # Twisted wants no producer left once it finishes
    await _daphne_handle_reply(self, protocol, message)
    if protocol.finished or protocol.channel is None:
        close_gate(protocol)
        return
    if kind == "http.response.start":
        open_gate(protocol)
    elif kind == "http.response.body" and not last_body:
        gate = getattr(protocol, "transport_gate", None)
        if gate is not None:
            await gate.wait()


def handle_exception(self, exception):
    """Answer 500 if nothing was sent yet, else abort the connection."""
    if not self._response_started:
        return _daphne_handle_exception(self, exception)
    close_gate(self)
    transport = self.channel.transport if self.channel is not None else None
    if transport is not None:
        logger.warning(
            "Aborted a response to %s after it had started: %s",
            self.client_addr,
            exception,
        )
        transport.abortConnection()


_daphne_handle_exception = http_protocol.WebRequest.handle_exception


def install_in_daphne():
    """Make Daphne's ``send`` wait for the transport, and abort broken responses."""
    server.Server.handle_reply = handle_reply
    http_protocol.WebRequest.handle_exception = handle_exception
