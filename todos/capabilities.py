"""Capabilities: who may do what with a list, and how the links change.

A list's edit id (``Document.doc_id``, the ``/lists/<id>/`` link) is its edit
capability. Its view-only capability is a second random token
(``Document.view_token``, the ``/view/<token>/`` link), at most one at a time.
Both are 144 random bits from ``secrets``, drawn independently, so neither says
anything about the other; ids and tokens share one namespace (a new one never
equals an existing one of either kind).

Public API:

- ``view_link_of(doc_id)``, ``create_view_link(doc_id)``,
  ``revoke_view_link(doc_id)``: the editor's side of the view-only link.
- ``resolve_view_token(token)``: the list a view-only token opens, or None.
- ``rotate_edit_id(doc_id)``: move the list to a new edit id; the old one is
  retired (``RetiredDocId``) and answers 410 from then on.
- ``links_group(doc_id)``: the Channels group told of link changes.

Every change of a link runs under the document's row lock (``storage.lock_document``),
like writes, and tells open sockets after the commit: ``view.revoked`` closes the
view-only sockets of a token turned off, ``doc.moved`` sends the open editors to
the new id. The checks on every write path live in ``todos.storage``: a write
that would create a list under a view-only token is refused with 403, one under
a retired id with 410, so no adapter can forget them.
"""

import logging
import secrets

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from . import repo_ids, storage
from .models import Chunk, Document, RetiredDocId

__all__ = [
    "view_link_of",
    "create_view_link",
    "revoke_view_link",
    "resolve_view_token",
    "rotate_edit_id",
    "links_group",
]

logger = logging.getLogger("todos.capabilities")

TOKEN_BYTES = 18  # 144 random bits, 24 URL-safe characters, like edit ids
# What a rotation leaves behind: the id itself, and the row's own timestamps.
NOT_MOVED = {"doc_id", "created_at", "updated_at"}


def links_group(doc_id):
    """The Channels group of the sockets to tell when ``doc_id``'s links change."""
    return f"links_{doc_id}"


def new_token():
    """A fresh random view-only token, used by no list, token or retired id."""
    return _unused(lambda: secrets.token_urlsafe(TOKEN_BYTES))


def new_edit_id():
    """A fresh edit id for a rotated list: an automerge-repo document id (as new
    lists get, todos/repo_ids.py), used by no list, token or retired id."""
    return _unused(repo_ids.new_document_id)


def _unused(draw):
    while True:
        value = draw()
        taken = (
            Document.objects.filter(doc_id=value).exists()
            or Document.objects.filter(view_token=value).exists()
            or RetiredDocId.objects.filter(doc_id=value).exists()
        )
        if not taken:
            return value


def view_link_of(doc_id):
    """List ``doc_id``'s view-only link: (token or None, turned off or not).

    The second value is True when the list's owner turned the link off (and
    made no new one), False when it is on or was never made.
    Raises Gone (410) for a retired edit id, InvalidDocId (404) for a bad one.
    """
    storage.check_doc_id(doc_id)
    with storage.database_available():
        row = (
            Document.objects.filter(doc_id=doc_id)
            .values_list("view_token", "view_link_off_since")
            .first()
        )
        if row is None:
            storage.refuse_retired(doc_id)
    token, off_since = row or (None, None)
    return token, off_since is not None


def create_view_link(doc_id):
    """Give list ``doc_id`` a new view-only token; the old one, if any, stops working.

    Creates the list's row if it has none yet (a list shared before its first
    write). Returns the new token.
    """
    storage.check_doc_id(doc_id)
    with storage.database_available(), transaction.atomic():
        document = storage.lock_document(doc_id)
        old = document.view_token
        document.view_token = new_token()
        document.view_link_off_since = None
        document.save(update_fields=["view_token", "view_link_off_since"])
        if old:
            transaction.on_commit(lambda: tell(doc_id, "view.revoked", token=old))
    return document.view_token


def revoke_view_link(doc_id):
    """Turn off list ``doc_id``'s view-only link; True if it had one."""
    storage.check_doc_id(doc_id)
    with storage.database_available(), transaction.atomic():
        document = Document.objects.select_for_update().filter(doc_id=doc_id).first()
        if document is None:
            storage.refuse_new_document(doc_id)  # a token or a retired id
            return False
        old = document.view_token
        if not old:
            return False
        document.view_token = None
        document.view_link_off_since = timezone.now()
        document.save(update_fields=["view_token", "view_link_off_since"])
        transaction.on_commit(lambda: tell(doc_id, "view.revoked", token=old))
    return True


def resolve_view_token(token):
    """The edit id of the list that view-only ``token`` opens, or None."""
    storage.check_doc_id(token)
    with storage.database_available():
        return (
            Document.objects.filter(view_token=token)
            .values_list("doc_id", flat=True)
            .first()
        )


def rotate_edit_id(doc_id):
    """Move list ``doc_id`` to a new edit id; return the new id.

    In one transaction holding the list's row lock: a new row takes the list's
    summary, chunks and view-only token, the old row goes, and the old id is
    retired, so a writer that waited for the lock finds no row, then the
    retired id, and gets 410 (Gone). After the commit, the sockets open on the
    old id are told the new one (``doc.moved``).
    """
    storage.check_doc_id(doc_id)
    with storage.database_available(), transaction.atomic():
        document = storage.lock_document(doc_id)
        new_id = new_edit_id()
        moved = {
            field.name: getattr(document, field.name)
            for field in Document._meta.concrete_fields
            if field.name not in NOT_MOVED
        }
        Document.objects.filter(doc_id=doc_id).update(view_token=None)
        Document.objects.create(doc_id=new_id, **moved)
        Chunk.objects.filter(document_id=doc_id).update(document_id=new_id)
        Document.objects.filter(doc_id=doc_id).delete()
        RetiredDocId.objects.create(doc_id=doc_id)
        transaction.on_commit(lambda: tell(doc_id, "doc.moved", doc_id=new_id))
    return new_id


def tell(old_id, event_type, **fields):
    """Send ``event_type`` to the sockets in ``old_id``'s links group."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            links_group(old_id), {"type": event_type, **fields}
        )
    except Exception:
        # The change is committed: a socket that misses this finds out at its
        # next write (410) or reconnection (404).
        logger.exception("Could not tell the sockets of %s: %s", old_id, event_type)
