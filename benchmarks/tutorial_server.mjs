// The Automerge "Remote storage" tutorial's file server, on node:http alone.
//
// Usage: node benchmarks/tutorial_server.mjs [--port N] [--data DIR] [--merge]
//                                            [--limit BYTES]
//
//   GET  /:id   the stored file, or 404 "Not found"
//   POST /:id   (PUT too) store the request body as the file
//
// Without --merge it does what the tutorial's express server does: every upload
// overwrites the file, so of two clients uploading in quick succession only the
// last one's edits survive (the race the tutorial describes). With --merge it does
// what the tutorial suggests as the fix: load the stored file, Automerge.merge the
// upload into it, save, write. Uploads are capped at --limit bytes (the tutorial's
// body-parser limit, 100 kB, by default). Prints "listening on URL" when ready;
// --port 0 picks a free port.
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";

import * as Automerge from "@automerge/automerge";

const DOC_ID = /^\/([A-Za-z0-9_-]{1,64})$/;
const CHUNK_TYPE_OFFSET = 8;
const DOCUMENT_CHUNK = 0;

/** Parse the command line into {port, data, merge, limit}. */
function parseArgs(argv) {
  const options = { port: 5000, data: null, merge: false, limit: 100 * 1024 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--merge") options.merge = true;
    else if (argv[i] === "--port") options.port = Number(argv[++i]);
    else if (argv[i] === "--data") options.data = argv[++i];
    else if (argv[i] === "--limit") options.limit = Number(argv[++i]);
    else throw new Error(`unknown option ${argv[i]}`);
  }
  options.data ??= fs.mkdtempSync(path.join(os.tmpdir(), "tutorial-server-"));
  fs.mkdirSync(options.data, { recursive: true });
  return options;
}

/** Merge an upload into the stored file's document, as the tutorial suggests. */
function mergeInto(stored, body) {
  const doc = Automerge.load(stored);
  if (isDocumentChunk(body)) {
    return Automerge.save(Automerge.merge(doc, Automerge.load(body)));
  }
  // A saveIncremental() does not load on its own (its dependencies are in the
  // stored file); applying it to the stored document is the same merge.
  return Automerge.save(Automerge.loadIncremental(doc, body));
}

/** True if the bytes start with a document chunk (the output of save()). */
function isDocumentChunk(bytes) {
  // magic (4 bytes), checksum (4 bytes), then the chunk type: 0 is a document.
  return bytes.length > CHUNK_TYPE_OFFSET && bytes[CHUNK_TYPE_OFFSET] === DOCUMENT_CHUNK;
}

/** Read the whole request body, or null once it passes `limit` bytes. */
function readBody(request, limit) {
  return new Promise((resolve, reject) => {
    const parts = [];
    let size = 0;
    request.on("data", (part) => {
      size += part.length;
      if (size <= limit) parts.push(part);
    });
    request.on("end", () => resolve(size <= limit ? Buffer.concat(parts) : null));
    request.on("error", reject);
  });
}

/** Send a response with a body and the tutorial's permissive CORS header. */
function send(response, status, body, type = "text/plain") {
  response.writeHead(status, {
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
    "Access-Control-Allow-Origin": "*",
  });
  response.end(body);
}

/** Build the request handler over the data directory. */
function handler(options) {
  return async (request, response) => {
    const match = DOC_ID.exec(request.url);
    if (!match) return send(response, 404, "Not found");
    const filename = path.join(options.data, match[1]);
    if (request.method === "GET") {
      if (!fs.existsSync(filename)) return send(response, 404, "Not found");
      return send(response, 200, fs.readFileSync(filename), "application/octet-stream");
    }
    if (request.method !== "POST" && request.method !== "PUT") {
      return send(response, 405, "Method not allowed");
    }
    const body = await readBody(request, options.limit);
    if (body === null) return send(response, 413, "Payload too large");
    // Everything from here on is synchronous, as in the tutorial (writeFileSync):
    // one upload is handled completely before the next one's turn.
    let data = body;
    if (options.merge && fs.existsSync(filename)) {
      try {
        data = mergeInto(fs.readFileSync(filename), body);
      } catch (error) {
        return send(response, 400, `Could not merge the upload: ${error.message}`);
      }
    }
    fs.writeFileSync(filename, data);
    return send(response, 200, "ok");
  };
}

const options = parseArgs(process.argv.slice(2));
const server = http.createServer(handler(options));
server.keepAliveTimeout = 60_000;
server.listen(options.port, "127.0.0.1", () => {
  const { port } = server.address();
  console.log(`listening on http://127.0.0.1:${port}/ (data in ${options.data})`);
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
