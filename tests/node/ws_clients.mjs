// Many real Automerge clients edit one document over the live channel (/ws/docs/<id>).
//
// Usage:
//   node tests/node/ws_clients.mjs --writer-urls WS[,WS...] --doc ID [options]
//
// Each WS is a server's WebSocket base (ws://host:port); client i of a role connects
// to that role's URLs[i % URLs.length] at `${WS}/ws/docs/${ID}`.
//
// Options:
//   --writers N           WebSocket clients that edit (default 20)
//   --edits K             items each writer adds, one change each (default 5)
//   --interval MS         pause between a writer's edits (default 0)
//   --skip-upload-every S every S-th upload of a writer is "lost on the way" (never
//                         the last), so its next incremental upload depends on a
//                         change the server lacks: 409, then Automerge.save() (0: never)
//   --deaf-writers D      the last D writers drop every push until their first
//                         resync, and start editing only when the others are done:
//                         their first acknowledgement shows heads they lack
//   --listeners L         clients that only listen (default 0)
//   --listener-urls WS,.. where listeners connect (default: the writer URLs)
//   --deaf-listeners D    the first D listeners drop every push until their first
//                         resync: only the convergence timeout can rescue them
//   --http-url HTTP       also edit over HTTP: POST to `${HTTP}/docs/${ID}`
//   --http-edits M        items the HTTP writer adds (default 0)
//   --ack-grace MS        when an ack's heads name changes this client lacks, wait
//                         this long for the pushes in flight before resyncing (1000)
//   --converge-timeout MS once every writer is done, a client still missing items
//                         after this long resyncs (default 5000)
//   --max-resyncs R       timeout resyncs a client tries before giving up (default 5)
//
// Protocol (README, "The live channel"): on connect the server sends the stored
// document as one binary frame; a client sends Automerge bytes as binary frames and
// gets a JSON text frame back for each, {"type": "ack", "heads", ...} or
// {"type": "error", "status", ...}; every other socket on the document gets each
// committed write as a binary frame, applied with Automerge.loadIncremental.
//
// A push can be lost (channels' group_send drops messages to a full channel), so a
// client checks every acknowledgement: heads it does not have are either pushes
// still in flight or pushes it missed. It waits --ack-grace for them, then resyncs:
// it reconnects, and the connect frame (the whole stored document) brings it up to
// date. After the writers are done, a client that does not hold every item within
// --converge-timeout resyncs the same way. Both kinds of resync are counted.
//
// The script seeds the document with Automerge.save({title, items: []}) over a
// socket, connects every client, then starts every writer at the same moment. The
// report is one JSON object on stdout; the exit status is 0 unless the script
// itself failed (the caller judges the report).

import * as Automerge from "@automerge/automerge";
import { readOptions } from "./options.mjs";
import { Waiters } from "./waiters.mjs";
import { ensureWebSocket } from "./websocket.mjs";

ensureWebSocket(import.meta.url);

const DEFAULTS = {
  "writer-urls": "",
  doc: "",
  writers: "20",
  edits: "5",
  interval: "0",
  "skip-upload-every": "0",
  "deaf-writers": "0",
  listeners: "0",
  "listener-urls": "",
  "deaf-listeners": "0",
  "http-url": "",
  "http-edits": "0",
  "ack-grace": "1000",
  "converge-timeout": "5000",
  "max-resyncs": "5",
};
const CONFLICT = 409;

/** Parse `--name value` arguments over DEFAULTS. */
function parseArgs(argv) {
  const raw = readOptions(argv, DEFAULTS);
  if (!raw["writer-urls"] || !raw.doc) throw new Error("--writer-urls and --doc are required");
  const number = (name) => {
    const value = Number(raw[name]);
    if (!Number.isInteger(value) || value < 0) {
      throw new Error(`--${name} must be a whole number, not ${raw[name]}`);
    }
    return value;
  };
  const writerUrls = raw["writer-urls"].split(",");
  const options = {
    doc: raw.doc,
    writerUrls,
    listenerUrls: raw["listener-urls"] ? raw["listener-urls"].split(",") : writerUrls,
    httpUrl: raw["http-url"],
  };
  for (const name of Object.keys(DEFAULTS)) {
    if (!["writer-urls", "listener-urls", "http-url", "doc"].includes(name)) {
      options[name.replace(/-(\w)/g, (_, c) => c.toUpperCase())] = number(name);
    }
  }
  if (options.deafWriters > options.writers) throw new Error("--deaf-writers > --writers");
  if (options.deafListeners > options.listeners) {
    throw new Error("--deaf-listeners > --listeners");
  }
  if (options.httpEdits > 0 && !options.httpUrl) throw new Error("--http-edits needs --http-url");
  return options;
}

/** A promise and the functions that settle it. */
function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The origin a browser on the server's own pages would send (Channels checks it). */
function originOf(wsUrl) {
  const url = new URL(wsUrl);
  return `${url.protocol === "wss:" ? "https" : "http"}://${url.host}`;
}

/** The text of an item a writer adds: unique across the run. */
function itemText(writer, edit) {
  return `${writer}-item-${edit}`;
}

/** Every item text in the document. */
function itemTexts(doc) {
  return new Set((doc.items || []).map((item) => String(item.text)));
}

/** One WebSocket client with its own Automerge document and actor. */
class Client {
  constructor({ name, url, role, deaf, edits, options, expected }) {
    this.name = name;
    this.url = url;
    this.role = role;
    this.deaf = deaf;
    this.edits = edits;
    this.options = options;
    this.expected = expected;
    this.doc = Automerge.init();
    this.socket = null;
    this.phase = "new";
    this.replies = [];
    this.waiters = new Waiters();
    this.stats = {
      connects: 0,
      uploads: 0,
      skippedUploads: 0,
      fallbacks: 0,
      pushes: 0,
      droppedPushes: 0,
      updateGaps: 0,
      acksBehind: 0,
      resyncs: { ack: 0, timeout: 0 },
      unexpectedCloses: [],
      errors: [],
    };
  }

  /** Open the socket and wait for the connect frame (the stored document). */
  async connect() {
    const initial = deferred();
    const socket = new WebSocket(`${this.url}/ws/docs/${this.options.doc}`, {
      headers: { origin: originOf(this.url) },
    });
    socket.binaryType = "arraybuffer";
    let awaitingInitial = true;
    socket.onmessage = (event) => {
      if (typeof event.data === "string") {
        const message = JSON.parse(event.data);
        if (message.type === "update") this.onUpdate(message.heads);
        else this.onReply(message);
      } else if (awaitingInitial) {
        awaitingInitial = false;
        initial.resolve(new Uint8Array(event.data));
      } else {
        this.onPush(new Uint8Array(event.data));
      }
    };
    socket.onerror = () => {
      initial.reject(new Error(`${this.name}: cannot connect to ${this.url}`));
    };
    socket.onclose = (event) => {
      if (this.socket === socket && !this.closing) {
        const { code, reason } = event;
        this.stats.unexpectedCloses.push({ code, reason, phase: this.phase });
      }
      for (const reply of this.replies.splice(0)) {
        reply.reject(new Error(`${this.name}: socket closed before the reply`));
      }
    };
    this.socket = socket;
    this.closing = false;
    this.stats.connects++;
    return this.applyInitial(await initial.promise);
  }

  /** Merge the stored document; return whether it lacked anything this client has. */
  applyInitial(bytes) {
    const stored = Automerge.load(bytes);
    this.doc = Automerge.loadIncremental(this.doc, bytes);
    Automerge.saveIncremental(this.doc); // the server has these already
    this.waiters.notify();
    return !Automerge.hasHeads(stored, Automerge.getHeads(this.doc));
  }

  /** A push: another socket's (or an HTTP) write, unless this client plays deaf. */
  onPush(bytes) {
    if (this.deaf) {
      this.stats.droppedPushes++;
      return;
    }
    this.stats.pushes++;
    this.doc = Automerge.loadIncremental(this.doc, bytes);
    // Edits are uploaded as they are made, so everything unsaved came from the server.
    Automerge.saveIncremental(this.doc);
    this.waiters.notify();
  }

  /** The server's heads after a push: resync if we lack some (a missed push). */
  onUpdate(heads) {
    if (this.deaf) return;
    if (!Automerge.hasHeads(this.doc, heads)) this.stats.updateGaps++;
  }

  onReply(reply) {
    const pending = this.replies.shift();
    if (pending) pending.resolve(reply);
    else this.stats.errors.push({ unexpected: reply });
  }

  /** Send one binary frame; resolve with the server's JSON answer to it. */
  request(bytes) {
    const reply = deferred();
    this.replies.push(reply);
    this.socket.send(bytes);
    this.stats.uploads++;
    return reply.promise;
  }

  /** Reconnect: the connect frame carries everything stored. Upload what it lacks. */
  async resync(reason) {
    this.stats.resyncs[reason]++;
    this.deaf = false;
    this.phase = `resyncing (${reason})`;
    if (this.socket.readyState !== WebSocket.CLOSED) {
      const closed = deferred();
      this.socket.addEventListener("close", () => closed.resolve());
      this.closing = true;
      this.socket.close();
      await closed.promise;
    }
    const serverLacks = await this.connect();
    if (serverLacks) await this.upload(Automerge.save(this.doc), true);
  }

  /** Add this client's items one change at a time, uploading each. */
  async write(startSignal) {
    await startSignal;
    for (let edit = 0; edit < this.edits; edit++) {
      this.phase = `writing edit ${edit}`;
      this.doc = Automerge.change(this.doc, (d) => {
        d.items.push({ text: itemText(this.name, edit), done: false });
      });
      const bytes = Automerge.saveIncremental(this.doc);
      const skip = this.options.skipUploadEvery;
      if (skip > 0 && edit % skip === skip - 1 && edit < this.edits - 1) {
        this.stats.skippedUploads++;
      } else {
        await this.upload(bytes, false);
      }
      if (this.options.interval > 0) await sleep(this.options.interval);
    }
  }

  /** Upload bytes; on 409 send the full document; check the ack's heads. */
  async upload(bytes, isSave) {
    let reply = await this.request(bytes);
    if (reply.type === "error" && reply.status === CONFLICT && !isSave) {
      this.stats.fallbacks++;
      reply = await this.request(Automerge.save(this.doc));
    }
    if (reply.type !== "ack") {
      this.stats.errors.push(reply);
      return;
    }
    await this.checkHeads(reply.heads);
  }

  /** Resync when the server's heads name changes that never arrive here. */
  async checkHeads(heads) {
    const hasAll = () => Automerge.hasHeads(this.doc, heads);
    if (hasAll()) return;
    this.stats.acksBehind++;
    if (await this.waiters.waitFor(hasAll, this.options.ackGrace)) return;
    await this.resync("ack");
    if (!hasAll()) {
      const lacking = heads.filter((head) => !Automerge.hasHeads(this.doc, [head]));
      this.stats.errors.push({ headsMissingAfterResync: lacking });
    }
  }

  /** Item texts this client should have but has not. */
  missing() {
    const have = itemTexts(this.doc);
    return this.expected.filter((text) => !have.has(text));
  }

  /** After the writers are done: wait for every item, resyncing on timeout. */
  async converge() {
    const complete = () => this.missing().length === 0;
    this.phase = "converging";
    for (let attempt = 0; attempt <= this.options.maxResyncs; attempt++) {
      if (await this.waiters.waitFor(complete, this.options.convergeTimeout)) return true;
      if (attempt < this.options.maxResyncs) await this.resync("timeout");
    }
    return false;
  }

  close() {
    this.phase = "done";
    this.closing = true;
    if (this.socket) this.socket.close();
  }

  report() {
    const missing = this.missing();
    return {
      name: this.name,
      url: this.url,
      role: this.role,
      items: itemTexts(this.doc).size,
      complete: missing.length === 0,
      missingCount: missing.length,
      missing: missing.slice(0, 10),
      heads: Automerge.getHeads(this.doc).sort(),
      ...this.stats,
    };
  }
}

/** Edits over HTTP: GET the document, then POST one incremental change per item. */
class HttpWriter {
  constructor(url, edits) {
    this.url = url;
    this.edits = edits;
    this.name = "http";
    this.stats = { uploads: 0, fallbacks: 0, errors: [] };
  }

  async post(bytes) {
    const response = await fetch(this.url, {
      method: "POST",
      body: bytes,
      headers: { "Content-Type": "application/octet-stream" },
    });
    this.stats.uploads++;
    return { status: response.status, body: await response.text() };
  }

  async write(startSignal) {
    const response = await fetch(this.url);
    if (response.status !== 200) throw new Error(`GET ${this.url} answered ${response.status}`);
    let doc = Automerge.load(new Uint8Array(await response.arrayBuffer()));
    await startSignal;
    for (let edit = 0; edit < this.edits; edit++) {
      doc = Automerge.change(doc, (d) => {
        d.items.push({ text: itemText(this.name, edit), done: false });
      });
      let answer = await this.post(Automerge.saveIncremental(doc));
      if (answer.status === CONFLICT) {
        this.stats.fallbacks++;
        answer = await this.post(Automerge.save(doc));
      }
      if (answer.status !== 200) this.stats.errors.push(answer);
    }
  }
}

/** Store the base document {title, items: []} through a socket of its own. */
async function seed(options) {
  const url = options.writerUrls[0];
  const socket = new WebSocket(`${url}/ws/docs/${options.doc}`, {
    headers: { origin: originOf(url) },
  });
  const answer = deferred();
  socket.onmessage = (event) => {
    if (typeof event.data === "string") answer.resolve(JSON.parse(event.data));
    else answer.reject(new Error(`document ${options.doc} exists already: use a new id`));
  };
  socket.onerror = () => answer.reject(new Error(`cannot connect to ${url}`));
  socket.onopen = () => {
    socket.send(Automerge.save(Automerge.from({ title: "Live", items: [] })));
  };
  const reply = await answer.promise;
  socket.close();
  if (reply.type !== "ack") throw new Error(`seeding answered ${JSON.stringify(reply)}`);
}

/** Build every client from the options: writers first, then listeners. */
function makeClients(options, expected) {
  const clients = [];
  for (let i = 0; i < options.writers; i++) {
    const deaf = i >= options.writers - options.deafWriters;
    clients.push(
      new Client({
        name: `writer-${i}`,
        url: options.writerUrls[i % options.writerUrls.length],
        role: deaf ? "deaf-writer" : "writer",
        deaf,
        edits: options.edits,
        options,
        expected,
      }),
    );
  }
  for (let i = 0; i < options.listeners; i++) {
    const deaf = i < options.deafListeners;
    clients.push(
      new Client({
        name: `listener-${i}`,
        url: options.listenerUrls[i % options.listenerUrls.length],
        role: deaf ? "deaf-listener" : "listener",
        deaf,
        edits: 0,
        options,
        expected,
      }),
    );
  }
  return clients;
}

/** Fail loudly if every socket and timer is gone while a client still waits. */
function watchForStall(clients, finished) {
  process.on("beforeExit", () => {
    if (finished()) return;
    const phases = clients().map(
      (c) => `${c.name}: ${c.phase}, ${c.replies.length} repl(ies) awaited, ` +
        `socket state ${c.socket?.readyState}`,
    );
    console.error(`Nothing left to wait for, yet clients are unfinished:\n${phases.join("\n")}`);
    process.exit(1);
  });
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  let clients = [];
  let reported = false;
  watchForStall(() => clients, () => reported);
  const expected = [];
  for (let i = 0; i < options.writers; i++) {
    for (let edit = 0; edit < options.edits; edit++) expected.push(itemText(`writer-${i}`, edit));
  }
  for (let edit = 0; edit < options.httpEdits; edit++) expected.push(itemText("http", edit));

  await seed(options);
  clients = makeClients(options, expected);
  await Promise.all(clients.map((client) => client.connect()));
  const http = options.httpEdits > 0
    ? new HttpWriter(`${options.httpUrl}/docs/${options.doc}`, options.httpEdits)
    : null;

  const start = deferred();
  const started = performance.now();
  const prompt = clients.filter((c) => c.role === "writer").map((c) => c.write(start.promise));
  if (http) prompt.push(http.write(start.promise));
  const promptDone = Promise.all(prompt);
  const late = clients.filter((c) => c.role === "deaf-writer").map((c) => c.write(promptDone));
  start.resolve();
  await Promise.all([promptDone, ...late]);
  const writeSeconds = (performance.now() - started) / 1000;

  const converged = await Promise.all(clients.map((client) => client.converge()));
  const seconds = (performance.now() - started) / 1000;
  const reports = clients.map((client) => client.report());
  for (const client of clients) client.close();
  reported = true;

  const sum = (pick) => reports.reduce((n, r) => n + pick(r), 0);
  process.stdout.write(
    JSON.stringify({
      options,
      expectedItems: expected.length,
      writeSeconds,
      seconds,
      converged: converged.every(Boolean),
      sameHeads: reports.every((r) => JSON.stringify(r.heads) === JSON.stringify(reports[0].heads)),
      heads: reports[0]?.heads ?? [],
      totals: {
        pushes: sum((r) => r.pushes),
        droppedPushes: sum((r) => r.droppedPushes),
        fallbacks: sum((r) => r.fallbacks) + (http ? http.stats.fallbacks : 0),
        skippedUploads: sum((r) => r.skippedUploads),
        acksBehind: sum((r) => r.acksBehind),
        ackResyncs: sum((r) => r.resyncs.ack),
        timeoutResyncs: sum((r) => r.resyncs.timeout),
        unexpectedCloses: sum((r) => r.unexpectedCloses.length),
        errors: sum((r) => r.errors.length) + (http ? http.stats.errors.length : 0),
      },
      http: http ? http.stats : null,
      clients: reports,
    }),
  );
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
