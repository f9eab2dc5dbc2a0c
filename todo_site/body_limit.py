"""Request bodies over TODOS_MAX_DOCUMENT_BYTES are refused (413) before they are read.

No request to this site needs a body larger than the largest document, so the limit
holds for every HTTP request, at two levels:

- ``BodyLimit``, ASGI middleware around Django: a declared ``Content-Length`` over
  the limit is answered 413 without reading the body, and a body that arrives in
  pieces (chunked) is cut off with 413 as soon as it passes the limit. Django's
  ASGI handler would otherwise read the whole body first (to a temporary file).
- ``BoundedWebRequest``, for Daphne: Daphne (Twisted) receives a request's whole
  body before it calls the application at all, and then queues all of it in
  memory as ``http.request`` messages, so under Daphne the ASGI level alone is too
  late. ``install_in_daphne()`` makes Daphne use this request class, which answers
  413 as soon as the headers declare too much, or as soon as a chunked body passes
  the limit, and then drops whatever else the client sends. It also keeps Twisted
  from parsing POSTed form bodies, which Daphne never uses.
"""

import json
import logging
from io import BytesIO

from daphne import http_protocol
from django.conf import settings

logger = logging.getLogger(__name__)

# After refusing a body, how long Daphne keeps reading (and dropping) what the
# client still sends, so that closing does not reset the connection before the
# client has read the 413.
LINGER_SECONDS = 5.0


def max_body_bytes():
    return settings.TODOS_MAX_DOCUMENT_BYTES


def refusal_body(limit):
    message = (
        f"The upload is larger than {limit} bytes, the most this server accepts "
        "per document (TODOS_MAX_DOCUMENT_BYTES)."
    )
    return json.dumps({"error": message}).encode()


def declared_length(headers):
    """The ``Content-Length`` of ASGI ``headers`` as an int, or None."""
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """ASGI middleware: refuse HTTP bodies over the limit without buffering them."""

    def __init__(self, app, limit=None):
        self.app = app
        self.fixed_limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.fixed_limit if self.fixed_limit is not None else max_body_bytes()
        declared = declared_length(scope.get("headers", []))
        if declared is not None and declared > limit:
            log_refusal(scope.get("client"), declared, limit, request_of(scope))
            return await send_refusal(send, limit)

        received = 0
        refused = False
        response_started = False

        async def bounded_receive():
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Answer now, and tell the application the client is gone:
                    # Django's handler then stops reading and returns quietly.
                    refused = True
                    if not response_started:
                        request = request_of(scope)
                        log_refusal(scope.get("client"), received, limit, request)
                        await send_refusal(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal response_started
            if refused:
                return  # the 413 went out instead
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        return await self.app(scope, bounded_receive, guarded_send)


async def send_refusal(send, limit):
    body = refusal_body(limit)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def request_of(scope):
    """(method, path, X-Forwarded-For or None) of an ASGI HTTP scope."""
    forwarded = [
        value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name.lower() == b"x-forwarded-for"
    ]
    return scope.get("method", ""), scope.get("path", ""), ",".join(forwarded) or None


def log_refusal(client, size, limit, request=None):
    """Log a refused body; a write to a document also gets its write log line.

    ``request`` is (method, path, X-Forwarded-For or None), when known.
    """
    who = f"{client[0]}:{client[1]}" if client else "a client"
    logger.warning(
        "Refused a request body from %s: %s bytes, over the limit of %s (413)",
        who,
        size,
        limit,
    )
    if request is not None:
        from todos import writelog

        method, path, forwarded_for = request
        peer = client[0] if client else None
        writelog.log_refused_body(method, path, size, peer, forwarded_for)


# --- Daphne ---------------------------------------------------------------------------


class BoundedWebRequest(http_protocol.WebRequest):
    """Daphne's request, refusing a body over the limit while it is still arriving."""

    refused = False
    received = 0

    def __init__(self, *args, **kwargs):
        # Twisted would parse a POSTed form body itself (and answer a malformed
        # one with a bare 400); Daphne never uses what it parses, and a form is
        # not an upload here (the view answers 415).
        kwargs["parsePOSTFormSubmission"] = False
        super().__init__(*args, **kwargs)

    def gotLength(self, length):
        """Called once the headers are in, before any of the body is read."""
        limit = max_body_bytes()
        if length is not None and length > limit:
            self.refuse(length, limit)
            return
        super().gotLength(length)

    def handleContentChunk(self, data):
        if self.refused:
            return
        self.received += len(data)
        limit = max_body_bytes()
        if self.received > limit:
            self.refuse(self.received, limit)
            return
        super().handleContentChunk(data)

    def requestReceived(self, command, path, version):
        if self.refused:
            return  # answered already; the application never sees it
        super().requestReceived(command, path, version)

    def refuse(self, size, limit):
        """Answer 413 at once, drop the rest of the body, close the connection."""
        from twisted.internet import reactor  # Daphne's, installed by then

        self.refused = True
        self.content = BytesIO()
        channel = self.channel
        transport = channel.transport
        peer = transport.getPeer()
        # The request line is parsed by now, but only the channel holds it.
        method = getattr(channel, "_command", b"").decode("latin-1")
        path = getattr(channel, "_path", b"").decode("latin-1")
        forwarded = self.requestHeaders.getRawHeaders(b"x-forwarded-for") or []
        forwarded_for = b",".join(forwarded).decode("latin-1") or None
        log_refusal(
            (getattr(peer, "host", "?"), getattr(peer, "port", "?")),
            size,
            limit,
            (method, path, forwarded_for),
        )
        # Twisted would answer "100 Continue" after these headers: not now.
        self.requestHeaders.removeHeader(b"expect")
        body = refusal_body(limit)
        head = (
            b"HTTP/1.1 413 Content Too Large\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % len(body)
        )
        transport.write(head + body)
        # From now on whatever arrives is dropped unread (and never buffered).
        channel.dataReceived = lambda data: None
        if hasattr(transport, "loseWriteConnection"):
            transport.loseWriteConnection()  # send the answer, then FIN
        else:
            transport.loseConnection()
        reactor.callLater(LINGER_SECONDS, abort, transport)


def abort(transport):
    if getattr(transport, "connected", False):
        transport.abortConnection()


def install_in_daphne():
    """Make Daphne build ``BoundedWebRequest``s (its factory names the class)."""
    http_protocol.WebRequest = BoundedWebRequest
