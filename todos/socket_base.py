"""``SocketConsumer``: the base of this project's WebSocket consumers.

Channels' ``AsyncConsumer.dispatch`` runs ``close_old_connections`` in the
thread of ``database_sync_to_async`` before every message it hands to a
handler: a round trip from the event loop to that one thread and back for each
frame, each push and each presence announcement, on every socket. A push to 100
sockets made 100 such round trips, one after another through the same thread,
and the presence heartbeats of 100 sockets made 10,000 each ten seconds, which
delayed pushes by up to a second (docs/benchmarks.md).

Our handlers never touch the database from the event loop: every database call
goes through ``database_sync_to_async``, which closes stale connections itself,
before and after the call, in the thread that holds them. So the per-message
hop only costs; ``dispatch`` here is Channels' without it.
"""

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer

__all__ = ["SocketConsumer"]


class SocketConsumer(AsyncWebsocketConsumer):
    """``AsyncWebsocketConsumer`` whose dispatch makes no database round trip."""

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
