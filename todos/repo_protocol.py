"""automerge-repo's WebSocket frames, as the server reads and writes them.

``@automerge/automerge-repo-network-websocket`` sends one CBOR-encoded map per
binary frame. A client opens with ``join`` (its peer id and the protocol
versions it speaks, of which "1" is the only one); the server answers ``peer``
(its own peer id and the version chosen). After that each frame is a repo
message for one document: ``request`` (the peer lacks the document) or ``sync``
(Automerge sync message bytes in ``data``), ``doc-unavailable``, ``ephemeral``,
``remote-subscription-change`` and ``remote-heads-changed``. The server answers
with ``sync``, ``doc-unavailable`` or ``error`` (a ``message`` for a person).

Public API: ``decode_frame(data) -> dict``, ``encode_frame(message) -> bytes``,
``ProtocolError``, ``PROTOCOL_VERSION``, ``SERVER_PEER_ID``, ``MAX_DOCUMENTS``.
"""

import secrets

import cbor2

__all__ = [
    "decode_frame",
    "encode_frame",
    "ProtocolError",
    "PROTOCOL_VERSION",
    "SERVER_PEER_ID",
    "MAX_DOCUMENTS",
]

PROTOCOL_VERSION = "1"
# One id per server process: a client reconnecting to another process meets
# another peer, as it would another sync server.
SERVER_PEER_ID = f"django-todos-{secrets.token_hex(8)}"
# Documents one socket may sync at once: each holds a sync state in the engine.
MAX_DOCUMENTS = 64
MAX_PEER_ID_CHARS = 200
DOC_TYPES = ("request", "sync")
IGNORED_TYPES = (
    "doc-unavailable",
    "ephemeral",
    "remote-subscription-change",
    "remote-heads-changed",
)
# CBOR nesting a repo message needs: a map holding a map (peerMetadata) or a
# list (supportedProtocolVersions) of short values.
MAX_DEPTH = 4


class ProtocolError(ValueError):
    """A frame that is not a repo message the server can take; says what is wrong."""


def decode_frame(data):
    """The repo message in binary frame ``data``, checked; raise ProtocolError."""
    try:
        message = cbor2.loads(data, max_depth=MAX_DEPTH, allow_duplicate_keys=False)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError) as exc:
        raise ProtocolError(
            f"The frame is not CBOR ({exc}); send one CBOR map per binary frame, "
            "as @automerge/automerge-repo-network-websocket does."
        ) from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError(
            "The frame is not a repo message: send a CBOR map with a 'type' string."
        )
    kind = message["type"]
    _text(message, "senderId", MAX_PEER_ID_CHARS)
    if kind == "join":
        versions = message.get("supportedProtocolVersions")
        if not isinstance(versions, list):
            raise ProtocolError(
                "A join message needs 'supportedProtocolVersions', a list of "
                f"versions; this server speaks {PROTOCOL_VERSION!r}."
            )
    elif kind in DOC_TYPES:
        _text(message, "documentId", 200)
        if not isinstance(message.get("data"), bytes) or not message["data"]:
            raise ProtocolError(
                f"A {kind} message needs 'data': the Automerge sync message, as "
                "a CBOR byte string."
            )
    elif kind not in IGNORED_TYPES:
        raise ProtocolError(
            f"Unknown message type {kind[:40]!r}: this server takes join, request, "
            "sync, doc-unavailable, ephemeral, remote-subscription-change and "
            "remote-heads-changed."
        )
    return message


def _text(message, key, most):
    value = message.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= most:
        raise ProtocolError(
            f"The message needs {key!r}: a string of 1 to {most} characters."
        )


def encode_frame(message):
    """One binary frame holding ``message`` (a dict) as CBOR."""
    return cbor2.dumps(message)
