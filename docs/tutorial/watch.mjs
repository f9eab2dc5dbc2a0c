// Watch one list over the server's WebSocket and print it whenever a frame comes.
//
// Usage: node docs/tutorial/watch.mjs WS_URL [--frames N]
//
// WS_URL is a document's live channel, e.g. ws://127.0.0.1:8000/ws/docs/my-list.
// On connect the server sends the stored list as one binary frame; after that it
// pushes every write that anyone commits to the list, from a socket or over HTTP.
// Each frame is merged into the watcher's copy (Automerge.loadIncremental, as the
// browser app does) and the list is printed. It exits after N binary frames
// (default 2: the stored list and one push).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

import * as Automerge from "@automerge/automerge";

import { describe, startDoc } from "./tutorial_client.mjs";

if (typeof WebSocket === "undefined") {
  // Node 20 has its WebSocket client behind a flag (Node 22 enables it by default).
  const args = ["--experimental-websocket", "--no-warnings", ...process.execArgv];
  const child = spawnSync(
    process.execPath,
    [...args, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: "inherit" },
  );
  process.exit(child.status ?? 1);
}

/** Parse the command line into {url, frames}. */
function parseArgs(argv) {
  const options = { url: "", frames: 2 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--frames") options.frames = Number(argv[++i]);
    else if (!argv[i].startsWith("--") && !options.url) options.url = argv[i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!options.url.startsWith("ws")) {
    throw new Error("usage: node docs/tutorial/watch.mjs ws://HOST/ws/docs/DOC_ID [--frames N]");
  }
  return options;
}

/** The Origin a page served by the same server would send; Channels checks it. */
function originOf(wsUrl) {
  const url = new URL(wsUrl);
  return `${url.protocol === "wss:" ? "https:" : "http:"}//${url.host}`;
}

function watch({ url, frames }) {
  let doc = startDoc();
  let received = 0;
  const socket = new WebSocket(url, { headers: { origin: originOf(url) } });
  socket.binaryType = "arraybuffer";
  socket.onopen = () => console.log(`connected to ${url}`);
  socket.onmessage = (event) => {
    if (typeof event.data === "string") {
      // {"type": "update", "heads": [...]} follows each push; we need no more.
      if (JSON.parse(event.data).type !== "update") console.log(`the server says: ${event.data}`);
      return;
    }
    const bytes = new Uint8Array(event.data);
    doc = Automerge.loadIncremental(doc, bytes);
    received += 1;
    const what = received === 1 ? "the stored list" : "a push";
    console.log(`frame ${received} (${what}, ${bytes.length} bytes); the list is now:`);
    console.log(describe(doc).map((line) => `  ${line}`).join("\n"));
    if (received >= frames) socket.close();
  };
  socket.onerror = (event) => {
    console.error(`WebSocket error: ${event.message || "could not connect"}`);
    process.exitCode = 1;
  };
  socket.onclose = () => process.exit(process.exitCode ?? 0);
}

watch(parseArgs(process.argv.slice(2)));
