// Clients for the deployment test (tests/deploy/test_deployment.py): real Automerge
// WebSocket clients and HTTP writers editing one list through nginx while the test
// kills and restarts server processes and Redis underneath them.
//
// Usage:
//   node tests/node/deploy_clients.mjs --url http://127.0.0.1:PORT --doc ID [options]
//
// Options:
//   --writers N          WebSocket clients that add an item every --interval ms (15)
//   --listeners L        WebSocket clients that only listen (15)
//   --http-writers H     HTTP writers that POST an item every --interval ms (3)
//   --interval MS        pause between one writer's edits (500)
//   --seconds S          how long the writers write, from the moment all are connected (20)
//   --converge-timeout MS after writing, how long clients wait for every item before
//                        one resync (reconnect) each (10000)
//
// Unlike tests/node/ws_clients.mjs, a client whose socket closes under it reconnects
// by itself (after 100 ms, doubling up to 2 s), merges the stored document the
// connect frame brings, and uploads Automerge.save() if the server lacks any of its
// changes (an edit whose acknowledgement was lost with the socket). An edit counts as
// acknowledged when an ack (WebSocket) or a 200 (HTTP) covers it.
//
// Control: the script prints {"event": "ready"} on stdout once every client is
// connected and the writers start. A line "mark NAME" on stdin records the time of
// event NAME (e.g. "mark redis-up"); the report gives, per mark, how long each client
// took to receive its first push after it. The last stdout line is the report.

import { createInterface } from "node:readline";
import * as Automerge from "@automerge/automerge";
import { readOptions } from "./options.mjs";
import { Waiters } from "./waiters.mjs";
import { ensureWebSocket } from "./websocket.mjs";

ensureWebSocket(import.meta.url);

const DEFAULTS = {
  url: "",
  doc: "",
  writers: "15",
  listeners: "15",
  "http-writers": "3",
  interval: "500",
  seconds: "20",
  "converge-timeout": "10000",
};
const CONFLICT = 409;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const raw = readOptions(process.argv.slice(2), DEFAULTS);
if (!raw.url || !raw.doc) throw new Error("--url and --doc are required");
const options = {
  url: raw.url,
  doc: raw.doc,
  writers: Number(raw.writers),
  listeners: Number(raw.listeners),
  httpWriters: Number(raw["http-writers"]),
  interval: Number(raw.interval),
  seconds: Number(raw.seconds),
  convergeTimeout: Number(raw["converge-timeout"]),
};
const httpBase = new URL(options.url);
const wsUrl = `${httpBase.protocol === "https:" ? "wss" : "ws"}://${httpBase.host}/ws/docs/${options.doc}`;
const docUrl = `${options.url}/docs/${options.doc}`;
const origin = httpBase.origin;

/** When each change (by hash) was sent by its writer: push latency is measured from it. */
const sentAt = new Map();
/** Times of the marks the test sent on stdin, by name. */
const marks = {};
const pushLatencies = [];
const ackLatencies = [];

function itemTexts(doc) {
  return new Set((doc.items || []).map((item) => String(item.text)));
}

class Client {
  constructor(name, role) {
    this.name = name;
    this.role = role;
    this.doc = Automerge.init();
    this.socket = null;
    this.open = false;
    this.stopped = false;
    this.replies = [];
    this.waiters = new Waiters();
    this.authored = 0; // items this client has added
    this.acked = 0; // of which this many are covered by an ack
    this.pushTimes = [];
    this.stats = { connects: 0, closes: [], reconnectMs: [], pushes: 0, errors: [], resyncs: 0 };
  }

  /** Connect, retrying with backoff, until the connect frame arrives. */
  async connect() {
    let delay = 100;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.connectOnce();
        return;
      } catch (error) {
        this.stats.errors.push({ connect: String(error.message) });
        if (attempt >= 15) {
          this.stats.gaveUp = true;
          return;
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 2000);
      }
    }
  }

  connectOnce() {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(wsUrl, { headers: { origin } });
      socket.binaryType = "arraybuffer";
      let initial = true;
      // A handshake or connect frame that does not come within 10 s: give up on it.
      const handshake = setTimeout(() => {
        if (initial) socket.close();
      }, 10000);
      socket.onmessage = (event) => {
        if (typeof event.data === "string") {
          const message = JSON.parse(event.data);
          if (message.type === "update") return;
          const pending = this.replies.shift();
          if (pending) pending.resolve(message);
        } else if (initial) {
          initial = false;
          clearTimeout(handshake);
          this.socket = socket;
          this.open = true;
          this.stats.connects++;
          const lacks = this.applyInitial(new Uint8Array(event.data));
          resolve();
          if (lacks) this.upload(Automerge.save(this.doc), this.authored);
        } else {
          this.onPush(new Uint8Array(event.data));
        }
      };
      socket.onclose = (event) => {
        for (const reply of this.replies.splice(0)) reply.resolve({ type: "closed" });
        if (initial) {
          clearTimeout(handshake);
          reject(new Error(`closed before the connect frame (${event.code})`));
          return;
        }
        if (this.socket !== socket) return;
        this.open = false;
        if (this.stopped) return;
        const closedAt = Date.now();
        this.stats.closes.push({ at: closedAt, code: event.code });
        this.connect().then(() => this.stats.reconnectMs.push(Date.now() - closedAt));
      };
    });
  }

  /** Merge the stored document; true if it lacks a change of this client. */
  applyInitial(bytes) {
    const stored = Automerge.load(bytes);
    this.doc = Automerge.loadIncremental(this.doc, bytes);
    Automerge.saveIncremental(this.doc);
    this.waiters.notify();
    return !Automerge.hasHeads(stored, Automerge.getHeads(this.doc));
  }

  onPush(bytes) {
    const now = Date.now();
    const before = new Set(Automerge.getHeads(this.doc));
    this.doc = Automerge.loadIncremental(this.doc, bytes);
    Automerge.saveIncremental(this.doc);
    this.stats.pushes++;
    this.pushTimes.push(now);
    for (const head of Automerge.getHeads(this.doc)) {
      if (!before.has(head) && sentAt.has(head)) pushLatencies.push(now - sentAt.get(head));
    }
    this.waiters.notify();
  }

  /** Upload bytes covering the first `covers` items of this client; retry on 409. */
  async upload(bytes, covers) {
    const sent = Date.now();
    let reply = await this.request(bytes);
    if (reply.type === "error" && reply.status === CONFLICT) {
      reply = await this.request(Automerge.save(this.doc));
    }
    if (reply.type === "ack") {
      this.acked = Math.max(this.acked, covers);
      ackLatencies.push(Date.now() - sent);
    } else if (reply.type !== "closed") {
      this.stats.errors.push(reply);
    }
  }

  request(bytes) {
    return new Promise((resolve) => {
      if (!this.open) {
        resolve({ type: "closed" });
        return;
      }
      // No answer within 10 s: count the socket as dead, close it and reconnect.
      const socket = this.socket;
      const pending = {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
      };
      const timer = setTimeout(() => {
        this.stats.errors.push({ noReplyWithinMs: 10000 });
        const index = this.replies.indexOf(pending);
        if (index >= 0) this.replies.splice(index, 1);
        resolve({ type: "closed" });
        socket.close();
      }, 10000);
      this.replies.push(pending);
      socket.send(bytes);
    });
  }

  /** Add an item every interval until `until`; uploads that fail are redone as a save. */
  async write(until) {
    let needSave = false;
    while (Date.now() < until) {
      if (this.open) {
        const text = `${this.name}-item-${this.authored}`;
        this.doc = Automerge.change(this.doc, (d) => {
          d.items.push({ text, done: false });
        });
        this.authored++;
        const [head] = Automerge.getHeads(this.doc);
        sentAt.set(head, Date.now());
        const incremental = Automerge.saveIncremental(this.doc);
        const covers = this.authored;
        await this.upload(needSave ? Automerge.save(this.doc) : incremental, covers);
        needSave = this.acked < covers;
      }
      await sleep(options.interval);
    }
    // The last edits: keep trying until they are acknowledged (or 10 s pass).
    const deadline = Date.now() + 10000;
    while (this.acked < this.authored && Date.now() < deadline) {
      if (this.open) await this.upload(Automerge.save(this.doc), this.authored);
      if (this.acked < this.authored) await sleep(200);
    }
  }

  missing(expected) {
    const have = itemTexts(this.doc);
    return expected.filter((text) => !have.has(text));
  }

  /** Wait for every expected item; after the timeout, reconnect once and check again. */
  async converge(expected) {
    const complete = () => this.missing(expected).length === 0;
    if (await this.waiters.waitFor(complete, options.convergeTimeout)) return;
    this.stats.resyncs++;
    this.stopped = true;
    if (this.socket) this.socket.close();
    this.stopped = false;
    this.socket = null;
    await this.connect();
  }

  firstPushAfter(at) {
    const time = this.pushTimes.find((t) => t >= at);
    return time === undefined ? null : time - at;
  }

  close() {
    this.stopped = true;
    if (this.socket) this.socket.close();
  }
}

class HttpWriter {
  constructor(name) {
    this.name = name;
    this.authored = 0;
    this.acked = 0;
    this.stats = { posts: 0, errors: [] };
  }

  async post(bytes) {
    try {
      const response = await fetch(docUrl, {
        method: "POST",
        body: bytes,
        headers: { "Content-Type": "application/octet-stream" },
      });
      this.stats.posts++;
      return { status: response.status, body: await response.text() };
    } catch (error) {
      return { status: 0, body: String(error.message) };
    }
  }

  async write(until) {
    const response = await fetch(docUrl);
    let doc = Automerge.load(new Uint8Array(await response.arrayBuffer()));
    let needSave = false;
    const send = async (bytes, covers) => {
      const sent = Date.now();
      let answer = await this.post(bytes);
      if (answer.status === CONFLICT) answer = await this.post(Automerge.save(doc));
      if (answer.status === 200) {
        this.acked = Math.max(this.acked, covers);
        ackLatencies.push(Date.now() - sent);
      } else {
        this.stats.errors.push(answer);
      }
    };
    while (Date.now() < until) {
      doc = Automerge.change(doc, (d) => {
        d.items.push({ text: `${this.name}-item-${this.authored}`, done: false });
      });
      this.authored++;
      const [head] = Automerge.getHeads(doc);
      sentAt.set(head, Date.now());
      const incremental = Automerge.saveIncremental(doc);
      await send(needSave ? Automerge.save(doc) : incremental, this.authored);
      needSave = this.acked < this.authored;
      await sleep(options.interval);
    }
    const deadline = Date.now() + 10000;
    while (this.acked < this.authored && Date.now() < deadline) {
      await send(Automerge.save(doc), this.authored);
      if (this.acked < this.authored) await sleep(200);
    }
  }
}

async function seed() {
  const response = await fetch(docUrl, {
    method: "POST",
    body: Automerge.save(Automerge.from({ title: "Deployment", items: [] })),
    headers: { "Content-Type": "application/octet-stream" },
  });
  if (response.status !== 200) {
    throw new Error(`seeding answered ${response.status}: ${await response.text()}`);
  }
}

function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main() {
  createInterface({ input: process.stdin }).on("line", (line) => {
    const [word, name] = line.trim().split(/\s+/);
    if (word === "mark" && name) marks[name] = Date.now();
  });
  await seed();
  const clients = [];
  for (let i = 0; i < options.writers; i++) clients.push(new Client(`ws-${i}`, "writer"));
  for (let i = 0; i < options.listeners; i++) clients.push(new Client(`listen-${i}`, "listener"));
  const http = [];
  for (let i = 0; i < options.httpWriters; i++) http.push(new HttpWriter(`http-${i}`));
  await Promise.all(clients.map((client) => client.connect()));

  const started = Date.now();
  const until = started + options.seconds * 1000;
  process.stdout.write(`${JSON.stringify({ event: "ready", at: started })}\n`);
  await Promise.all([
    ...clients.filter((c) => c.role === "writer").map((c) => c.write(until)),
    ...http.map((h) => h.write(until)),
  ]);
  const writeSeconds = (Date.now() - started) / 1000;

  const expected = [];
  for (const writer of [...clients, ...http]) {
    for (let i = 0; i < writer.acked; i++) expected.push(`${writer.name}-item-${i}`);
  }
  console.error(`writing done after ${writeSeconds} s; converging`);
  await Promise.all(clients.map((client) => client.converge(expected)));
  console.error("converged");
  const reports = clients.map((client) => ({
    name: client.name,
    role: client.role,
    missing: client.missing(expected).slice(0, 5),
    missingCount: client.missing(expected).length,
    heads: Automerge.getHeads(client.doc).sort(),
    firstPushAfter: Object.fromEntries(
      Object.entries(marks).map(([name, at]) => [name, client.firstPushAfter(at)]),
    ),
    ...client.stats,
  }));
  for (const client of clients) client.close();

  const authored = [...clients, ...http].reduce((n, w) => n + w.authored, 0);
  const reconnects = reports.flatMap((r) => r.reconnectMs);
  process.stdout.write(
    `${JSON.stringify({
      options,
      marks,
      started,
      writeSeconds,
      authored,
      acknowledged: expected.length,
      writesPerSecond: expected.length / writeSeconds,
      push: { count: pushLatencies.length, p50: percentile(pushLatencies, 50), p99: percentile(pushLatencies, 99) },
      ack: { count: ackLatencies.length, p50: percentile(ackLatencies, 50), p99: percentile(ackLatencies, 99) },
      reconnect: { count: reconnects.length, p50: percentile(reconnects, 50), max: percentile(reconnects, 100) },
      sameHeads: reports.every((r) => JSON.stringify(r.heads) === JSON.stringify(reports[0].heads)),
      http: http.map((h) => ({ name: h.name, authored: h.authored, acked: h.acked, ...h.stats, errors: h.stats.errors.slice(0, 5) })),
      clients: reports.map((r) => ({ ...r, heads: undefined, errors: r.errors.slice(0, 5) })),
    })}\n`,
  );
  process.exit(0);
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
