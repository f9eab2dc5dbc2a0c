// A server that only relays: the floor of push_latency.py's "relay" system.
//
// Usage: PORT=8000 node benchmarks/relay_server.mjs
//
// It speaks just enough of our tab socket for benchmarks/push_latency.mjs: a
// socket on /ws/docs/<id> gets the document's bytes so far as its first binary
// frame (if there are any); a binary frame from a socket is kept, answered with
// {"type": "ack"} and sent on to every other socket of the document. Nothing is
// checked, merged or written to disk, so what push_latency.mjs measures against
// it is what its clients cost on this machine with a server that costs almost
// nothing: no server can give those clients a lower latency here.

import { WebSocketServer } from "ws";

const documents = new Map(); // id -> {chunks: [Buffer], sockets: Set}
const ACK = JSON.stringify({ type: "ack" });

const server = new WebSocketServer({ port: Number(process.env.PORT), host: "127.0.0.1" });
server.on("connection", (socket, request) => {
  const id = new URL(request.url, "http://relay").pathname.split("/")[3];
  if (!documents.has(id)) documents.set(id, { chunks: [], sockets: new Set() });
  const doc = documents.get(id);
  doc.sockets.add(socket);
  if (doc.chunks.length) socket.send(Buffer.concat(doc.chunks));
  socket.on("message", (data, isBinary) => {
    if (!isBinary) return;
    doc.chunks.push(data);
    socket.send(ACK);
    for (const other of doc.sockets) if (other !== socket) other.send(data);
  });
  socket.on("close", () => doc.sockets.delete(socket));
});
