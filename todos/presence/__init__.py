"""Presence: who else has a list open right now, and which item they are editing.

Presence travels on the socket and the channel layer, never into the document:
each socket joins the group ``presence_<doc_id>`` and announces itself there;
every socket keeps a table of the others (``peers``) and sends its client the
list of them whenever it changes.

- ``frames``: the client's ``{"type": "presence", "editing": id | null}`` frame,
  parsed and bounded, and the frames the server sends.
- ``peers``: one socket's table of the other sockets on its list, with expiry.
- ``consumer``: ``PresenceMixin``, the part of the list consumers that does it.
"""
