"""The WebSocket endpoint /ws/docs/<doc_id>: the live channel for one document.

On connect the server sends the stored document as one binary frame. Binary frames
from the client are uploads, merged by the same service as HTTP writes and answered
with a JSON acknowledgement; every committed write, from here or over HTTP, is
pushed to the document's other sockets (by the process's push hub,
``todos/push_hub.py``) as a binary frame, followed by a text frame
``{"type": "update", "heads": [...], "chunks": n, "size": n}`` naming what is
stored now. A write that only compacts (fewer stored chunks, no new change) pushes
no bytes, only that text frame, so the other clients know the list was compacted
and need not compact it again.

When the list moves to a new edit id (``todos.capabilities.rotate_edit_id``),
its editors' sockets get ``{"type": "moved", "doc_id": new}`` and are closed
(code 4410); the old id accepts nothing from then on.

With ``?sync=1`` the socket speaks Automerge's sync protocol instead of being
sent the stored document on connect (``todos.tab_sync``): binary frames that
start like a sync message are taken as one; uploads and pushes stay as above.

``/ws/shared/<token>`` is the same channel for a view-only link: the stored
document and every push, but each binary frame is answered with a 403 error
frame and nothing is stored. When the link is turned off, its sockets get
``{"type": "revoked", "status": 404, "error": ...}`` and are closed (4404).

Text frames are presence (``todos/presence/``): each socket is announced to the
list's other sockets, which are told who else is here and what item they edit.
"""

import json
import time

from channels.db import database_sync_to_async

from todo_site import metrics

from . import capabilities, ratelimit, storage, tab_sync, writelog
from .presence.consumer import PresenceMixin
from .push_hub import hub_of
from .sharing import NO_VIEW_LINK, VIEW_ONLY
from .socket_base import SocketConsumer

MOVED_CLOSE_CODE = 4410
REVOKED_CLOSE_CODE = 4404


class DocumentConsumer(PresenceMixin, SocketConsumer):
    """One socket open on one document."""

    async def connect(self):
        self.doc_id = self.scope["url_route"]["kwargs"]["doc_id"]
        await self.open_document()

    async def open_document(self):
        """Accept, join the document's groups, and send the stored document."""
        self.group = storage.group_name(self.doc_id)
        self.client = ratelimit.address_of_scope(self.scope)
        # Pushes that arrive before the stored document is sent wait for it,
        # so the stored document stays the socket's first frame.
        self.waiting_pushes = []
        await self.accept()
        metrics.OPEN_SOCKETS.inc()
        self.counted = True
        # Join before reading, so no write committed after the read is missed.
        await self.join_groups()
        # A syncing tab is sent no stored document: it asks for what it lacks.
        self.syncing = tab_sync.wants_sync(self.scope)
        if not self.syncing and not await self.send_stored():
            return
        await self.send_waiting_pushes()
        await self.presence_join(self.doc_id)

    async def receive_push(self, **frame):
        """Send a frame of a push (from the push hub), or hold it (see above)."""
        if self.waiting_pushes is not None:
            self.waiting_pushes.append(frame)
        else:
            await self.send(**frame)

    async def send_waiting_pushes(self):
        """Send the pushes held while the stored document was read; stop holding."""
        while self.waiting_pushes:
            await self.send(**self.waiting_pushes.pop(0))
        self.waiting_pushes = None

    async def send_stored(self):
        """Send the stored document as one binary frame (nothing if none yet).

        False if it could not be read: the socket is then closed.
        """
        try:
            stored = await read_document(self.doc_id)
        except storage.StorageError as exc:
            # The database is down (503). Say so and close, leaving the group
            # now: had this raised, the consumer would have died without
            # disconnect(), and its channel stayed in the group.
            await self.leave_groups()
            await self.send_error(exc.message, status=exc.status)
            await self.close()
            return False
        if stored is not None:
            await self.send(bytes_data=stored.data)
        return True

    async def layer_reconnected(self, event):
        """The channel layer lost Redis and is back (todo_site/channel_layer.py).

        This socket is in its group again, but pushes sent meanwhile were lost:
        send the stored document, which the client merges like any push, or
        start a new sync exchange with a syncing tab; and announce this
        socket's presence again.
        """
        if getattr(self, "syncing", False):
            await tab_sync.restart(self)
        else:
            await self.send_stored()
        await self.presence_rejoin()

    async def disconnect(self, code):
        if getattr(self, "counted", False):
            metrics.OPEN_SOCKETS.dec()
            self.counted = False
        await self.presence_leave()
        if hasattr(self, "group"):
            await self.leave_groups()
        if getattr(self, "syncing", False):
            await tab_sync.forget(self)

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            if hasattr(self, "group"):  # a consumer that died without disconnect()
                await hub_of(self.channel_layer).forget(self)

    async def join_groups(self):
        """Take the document's pushes (through the process's push hub) and join
        the group of its links' changes."""
        await hub_of(self.channel_layer).register(self.group, self)
        links = capabilities.links_group(self.doc_id)
        await self.channel_layer.group_add(links, self.channel_name)

    async def leave_groups(self):
        await hub_of(self.channel_layer).unregister(self.group, self)
        links = capabilities.links_group(self.doc_id)
        await self.channel_layer.group_discard(links, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if bytes_data is None:
            await self.presence_receive(text_data)
            return
        if getattr(self, "syncing", False) and tab_sync.is_sync_message(bytes_data):
            await tab_sync.receive(self, bytes_data)
            return
        started = time.perf_counter()
        status, result = await self.merge_frame(bytes_data)
        changed = result is not None and result.changed
        writelog.log_write(
            self.doc_id,
            len(bytes_data),
            status,
            changed,
            started,
            "websocket",
            self.client,
        )

    async def merge_frame(self, data):
        """Merge one uploaded frame and answer it; return (status, WriteResult)."""
        refused = await ratelimit.refuse_frame(self.scope, self.client)
        if refused is not None:
            await self.send(text_data=refused)
            return ratelimit.STATUS, None
        try:
            result = await write_document(
                self.doc_id, data, self.channel_name, self.client
            )
        except storage.StorageError as exc:
            retry_after = getattr(exc, "retry_after", None)
            await self.send_error(exc.message, exc.status, retry_after)
            return exc.status, None
        await self.send(text_data=json.dumps({"type": "ack", **result.as_json()}))
        return 200, result

    async def doc_moved(self, event):
        """The list moved to a new edit id: tell this editor, then close."""
        await self.send(
            text_data=json.dumps({"type": "moved", "doc_id": event["doc_id"]})
        )
        await self.close(code=MOVED_CLOSE_CODE)

    async def view_revoked(self, event):
        """A view-only link was turned off: nothing to do for an editor."""

    async def send_error(self, message, status=400, retry_after=None):
        """Report a refused frame; the connection stays open."""
        frame = {"type": "error", "status": status, "error": message}
        if retry_after is not None:
            frame["retry_after"] = retry_after
        await self.send(text_data=json.dumps(frame))


class SharedDocumentConsumer(DocumentConsumer):
    """One socket open on a list by its view-only token: reads, never writes.

    Its presence counts, but it cannot announce editing an item (403).
    """

    presence_read_only = True

    async def connect(self):
        self.token = self.scope["url_route"]["kwargs"]["token"]
        try:
            doc_id = await resolve_view_token(self.token)
        except storage.StorageError as exc:
            doc_id, message, status = None, exc.message, exc.status
        else:
            message, status = NO_VIEW_LINK, 404
        if doc_id is None:
            await self.accept()
            await self.send_error(message, status=status)
            await self.close(code=REVOKED_CLOSE_CODE)
            return
        self.doc_id = doc_id
        await self.open_document()

    async def receive(self, text_data=None, bytes_data=None):
        """Refuse every upload: this socket holds a view-only capability.

        A syncing viewer catches up by sync; any change it sends is refused.
        """
        if bytes_data is None:
            await self.presence_receive(text_data)
            return
        if getattr(self, "syncing", False) and tab_sync.is_sync_message(bytes_data):
            await tab_sync.receive(self, bytes_data, read_only=True)
            return
        await self.send_error(VIEW_ONLY, status=403)

    async def doc_moved(self, event):
        """The list moved to a new edit id: follow it without telling the viewer."""
        await self.leave_groups()
        await self.presence_leave()
        if self.syncing:
            await tab_sync.forget(self)  # its state belongs to the old id
        self.doc_id = event["doc_id"]
        self.group = storage.group_name(self.doc_id)
        await self.join_groups()
        await self.presence_join(self.doc_id)

    async def view_revoked(self, event):
        """A view-only link was turned off: if it is this one, say so and close."""
        if event["token"] == self.token:
            frame = {"type": "revoked", "status": 404, "error": NO_VIEW_LINK}
            await self.send(text_data=json.dumps(frame))
            await self.close(code=REVOKED_CLOSE_CODE)


@database_sync_to_async
def resolve_view_token(token):
    return capabilities.resolve_view_token(token)


@database_sync_to_async
def read_document(doc_id):
    return storage.read_document(doc_id)


@database_sync_to_async
def write_document(doc_id, data, sender, client):
    return storage.write_document(doc_id, data, sender=sender, client=client)
