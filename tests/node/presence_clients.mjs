// N sockets on one list that speak presence, as the app's tabs do, for a while.
//
// Usage:
//   node tests/node/presence_clients.mjs --urls WS[,WS...] --doc ID [--sockets N]
//                                        [--heartbeat S] [--seconds D]
//
// Socket i opens /ws/docs/<ID> on urls[i % n] and sends its presence frame
// ({"type": "presence", "editing": null}) when open and every S seconds after,
// from a random phase (as presence.js does, a third of the server's timeout
// apart). Once every socket has seen all N - 1 others (or 60 s passed), it
// prints "ready" to stderr, keeps beating for D seconds, prints "done" to
// stderr, then one JSON object on stdout: how many sockets saw everyone when
// ready and the fewest others a socket saw then, and the presence frames the
// sockets received per second while it kept beating.
import { readOptions } from "./options.mjs";
import { ensureWebSocket } from "./websocket.mjs";

ensureWebSocket(import.meta.url);

const options = readOptions(process.argv.slice(2), {
  urls: "",
  doc: "",
  sockets: "100",
  heartbeat: "1",
  seconds: "10",
});
const urls = options.urls.split(",");
const count = Number(options.sockets);
const beatMs = Number(options.heartbeat) * 1000;
const SPEAK = JSON.stringify({ type: "presence", editing: null });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const sockets = [];
let frames = 0;
for (let i = 0; i < count; i++) {
  const base = urls[i % urls.length];
  const origin = base.replace(/^ws/, "http");
  const socket = new WebSocket(`${base}/ws/docs/${options.doc}`, { headers: { origin } });
  const entry = { socket, others: 0 };
  socket.onmessage = (event) => {
    if (typeof event.data !== "string") return;
    const frame = JSON.parse(event.data);
    if (frame.type !== "presence") return;
    frames++;
    entry.others = frame.others.length;
  };
  socket.onopen = () => {
    socket.send(SPEAK);
    setTimeout(
      () => {
        socket.send(SPEAK);
        entry.timer = setInterval(() => socket.send(SPEAK), beatMs);
      },
      Math.random() * beatMs,
    );
  };
  sockets.push(entry);
}

const deadline = performance.now() + 60_000;
const everyone = () => sockets.filter((s) => s.others === count - 1).length;
while (everyone() < count && performance.now() < deadline) await sleep(50);
const ready = everyone();
process.stderr.write("ready\n");
const before = frames;
await sleep(Number(options.seconds) * 1000);
const framesPerSecond = (frames - before) / Number(options.seconds);
process.stderr.write("done\n");
for (const { socket, timer } of sockets) {
  clearInterval(timer);
  socket.close();
}
const seen = sockets.map((s) => s.others);
console.log(
  JSON.stringify({
    sockets: count,
    sawEveryone: ready,
    fewestSeen: Math.min(...seen),
    framesPerSecond,
  }),
);
process.exit(0);
