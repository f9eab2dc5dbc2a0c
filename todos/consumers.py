"""The WebSocket endpoint /ws/docs/<doc_id>: the live channel for one document.

On connect the server sends the stored document as one binary frame. Binary frames
from the client are uploads, merged by the same service as HTTP writes and answered
with a JSON acknowledgement; every committed write, from here or over HTTP, is
pushed to the document's other sockets as a binary frame, followed by a text frame
``{"type": "update", "heads": [...], "chunks": n, "size": n}`` naming what is
stored now. A write that only compacts (fewer stored chunks, no new change) pushes
no bytes, only that text frame, so the other clients know the list was compacted
and need not compact it again.
"""

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from . import ratelimit, storage


class DocumentConsumer(AsyncWebsocketConsumer):
    """One socket open on one document."""

    async def connect(self):
        self.doc_id = self.scope["url_route"]["kwargs"]["doc_id"]
        self.group = storage.group_name(self.doc_id)
        # Join before reading, so no write committed after the read is missed.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        try:
            stored = await read_document(self.doc_id)
        except storage.StorageError as exc:
            # The database is down (503). Say so and close, leaving the group
            # now: had this raised, the consumer would have died without
            # disconnect(), and its channel stayed in the group.
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.send_error(exc.message, status=exc.status)
            await self.close()
            return
        if stored is not None:
            await self.send(bytes_data=stored.data)

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if bytes_data is None:
            await self.send_error(
                "Text frames are not understood here: send Automerge bytes "
                "(Automerge.save or saveIncremental output) as a binary frame."
            )
            return
        if (refused := await ratelimit.refuse_frame(self.scope)) is not None:
            return await self.send(text_data=refused)
        try:
            result = await write_document(self.doc_id, bytes_data, self.channel_name)
        except storage.StorageError as exc:
            await self.send_error(exc.message, status=exc.status)
            return
        await self.send(text_data=json.dumps({"type": "ack", **result.as_json()}))

    async def doc_updated(self, event):
        """A committed write: pass on its new bytes unless this socket sent them.

        The text frame after them names what is stored now (heads, chunk count,
        size), so a socket that only listens (and so gets no acknowledgements) can
        notice a push it missed, for example one that a full channel layer
        dropped, and knows when another client has compacted the stored chunks.
        A write that only compacted has no new bytes: the text frame goes alone.
        """
        if event["sender"] == self.channel_name:
            return
        if event["data"]:
            await self.send(bytes_data=event["data"])
        frame = {key: event[key] for key in ("heads", "chunks", "size")}
        await self.send(text_data=json.dumps({"type": "update", **frame}))

    async def send_error(self, message, status=400):
        """Report a refused frame; the connection stays open."""
        await self.send(
            text_data=json.dumps({"type": "error", "status": status, "error": message})
        )


@database_sync_to_async
def read_document(doc_id):
    return storage.read_document(doc_id)


@database_sync_to_async
def write_document(doc_id, data, sender):
    return storage.write_document(doc_id, data, sender=sender)
