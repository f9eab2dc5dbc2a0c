"""An ASGI app that only relays: push_latency.py's ``relay-daphne`` floor.

The protocol of ``relay_server.mjs``, served by Daphne: a socket on
``/ws/docs/<id>`` gets the document's bytes so far as its first frame; a binary
frame is kept, answered with ``{"type": "ack"}`` and sent on to the document's
other sockets. No Django, no Channels, no checks, no storage: what a push costs
in Daphne itself.
"""

import json

ACK = json.dumps({"type": "ack"})
documents = {}  # id -> {"chunks": [bytes], "sockets": {send}}


async def application(scope, receive, send):
    if scope["type"] != "websocket":
        return
    doc_id = scope["path"].split("/")[3]
    doc = documents.setdefault(doc_id, {"chunks": [], "sockets": set()})
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    doc["sockets"].add(send)
    try:
        if doc["chunks"]:
            await send({"type": "websocket.send", "bytes": b"".join(doc["chunks"])})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if data:
                doc["chunks"].append(data)
                await send({"type": "websocket.send", "text": ACK})
                for other in list(doc["sockets"]):
                    if other is not send:
                        await other({"type": "websocket.send", "bytes": data})
    finally:
        doc["sockets"].discard(send)
