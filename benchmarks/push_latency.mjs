// Time from one client's edit to its arrival at L listening sockets (our server).
//
// Usage:
//   node benchmarks/push_latency.mjs --writer-url WS --listener-urls WS[,WS...]
//                                    --doc ID [--listeners L] [--repetitions R]
//                                    [--warmup W] [--gap MS]
//
// WS is a Daphne server's WebSocket base (ws://host:port). One writer socket on
// --writer-url and L listener sockets (listener i on listener-urls[i % n]) open
// /ws/docs/<ID>, each with its own Automerge document. W + R times, the writer adds
// one item (Automerge.change), uploads Automerge.saveIncremental() as a binary
// frame, and every listener applies the pushed frame with Automerge.loadIncremental
// and checks that the item is there. The clock starts just before the writer's
// Automerge.change and stops, per listener, once the item is in its document, so
// the figure is what a user sees: edit on one device, item shown on another. All
// sockets live in this one process and share its clock. The next edit starts --gap
// ms after every listener has the previous one; the first W are warm-up.
//
// Prints one JSON object: per-socket latencies (every listener, every edit),
// per-edit latencies to the last listener and the writer's time to its
// acknowledgement, each as median, p99, mean and max in milliseconds, and the
// per-socket latencies split by listener URL.

import { readOptions } from "../tests/node/options.mjs";
import * as Automerge from "@automerge/automerge";
import { ensureWebSocket } from "../tests/node/websocket.mjs";

ensureWebSocket(import.meta.url);

const DEFAULTS = {
  "writer-url": "",
  "listener-urls": "",
  doc: "",
  listeners: "10",
  repetitions: "100",
  warmup: "5",
  gap: "250",
  "arrival-timeout": "30000",
};

/** Parse `--name value` arguments over DEFAULTS. */
function parseArgs(argv) {
  const raw = readOptions(argv, DEFAULTS);
  if (!raw["writer-url"] || !raw.doc) throw new Error("--writer-url and --doc are required");
  return {
    writerUrl: raw["writer-url"],
    listenerUrls: (raw["listener-urls"] || raw["writer-url"]).split(","),
    doc: raw.doc,
    listeners: Number(raw.listeners),
    repetitions: Number(raw.repetitions),
    warmup: Number(raw.warmup),
    gap: Number(raw.gap),
    arrivalTimeout: Number(raw["arrival-timeout"]),
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The origin a browser on the server's own pages would send (Channels checks it). */
function originOf(wsUrl) {
  const url = new URL(wsUrl);
  return `${url.protocol === "wss:" ? "https" : "http"}://${url.host}`;
}

/** Open a socket on the document; resolve once it is open. */
function openSocket(base, doc, onMessage) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${base}/ws/docs/${doc}`, {
      headers: { origin: originOf(base) },
    });
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => onMessage(event.data);
    socket.onopen = () => resolve(socket);
    socket.onerror = () => reject(new Error(`cannot connect to ${base}`));
  });
}

/** Nearest-rank percentile of sorted numbers. */
function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Median, p99, mean and max of latencies in ms, rounded to 0.01 ms. */
function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (x) => (x === null ? null : Math.round(x * 100) / 100);
  const mean = sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1);
  return {
    count: sorted.length,
    median: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    mean: round(mean),
    max: round(sorted[sorted.length - 1] ?? null),
  };
}

/** A listening socket: applies pushes and reports when edit `n` has arrived. */
class Listener {
  constructor(url) {
    this.url = url;
    this.doc = Automerge.init();
    this.onItems = null; // called with the item count after every applied frame
  }

  async open(doc) {
    let loaded;
    const initial = new Promise((resolve) => {
      loaded = resolve;
    });
    this.socket = await openSocket(this.url, doc, (data) => {
      if (typeof data === "string") return; // {"type": "update", ...} after a push
      this.doc = Automerge.loadIncremental(this.doc, new Uint8Array(data));
      loaded();
      if (this.onItems) this.onItems(this.doc.items.length);
    });
    await initial;
  }
}

/** The writing socket: one edit at a time, each answered by an acknowledgement. */
class Writer {
  constructor(url) {
    this.url = url;
    this.doc = Automerge.from({ title: "Push latency", items: [] });
    this.replies = [];
  }

  async open(doc) {
    this.socket = await openSocket(this.url, doc, (data) => {
      if (typeof data !== "string") return;
      // Only acks and errors answer an upload; an `update` (a compaction) or a
      // presence frame may come in between.
      const message = JSON.parse(data);
      if (message.type === "ack" || message.type === "error") this.replies.shift()?.(message);
    });
  }

  /** Send bytes; resolve with the server's JSON answer. */
  send(bytes) {
    return new Promise((resolve) => {
      this.replies.push(resolve);
      this.socket.send(bytes);
    });
  }

  /** Store the starting document; the listeners then load it on connect. */
  async seed() {
    const ack = await this.send(Automerge.save(this.doc));
    if (ack.type !== "ack") throw new Error(`seeding answered ${JSON.stringify(ack)}`);
    Automerge.saveIncremental(this.doc);
  }

  /** Add item number n and upload it; resolve with the acknowledgement. */
  edit(n) {
    this.doc = Automerge.change(this.doc, (d) => {
      d.items.push({ text: `edit-${n}`, done: false });
    });
    return this.send(Automerge.saveIncremental(this.doc));
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const writer = new Writer(options.writerUrl);
  await writer.open(options.doc);
  await writer.seed();
  const listeners = Array.from(
    { length: options.listeners },
    (_, i) => new Listener(options.listenerUrls[i % options.listenerUrls.length]),
  );
  await Promise.all(listeners.map((listener) => listener.open(options.doc)));

  const perSocket = [];
  const perEdit = [];
  const acks = [];
  const byUrl = {};
  let lost = 0;
  let cpuStart = process.cpuUsage();
  for (let n = 0; n < options.warmup + options.repetitions; n++) {
    if (n === options.warmup) {
      // The runner samples the servers' CPU between these two lines.
      process.stderr.write("measuring\n");
      cpuStart = process.cpuUsage();
    }
    const arrivals = listeners.map((listener) => {
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(null), options.arrivalTimeout);
        listener.onItems = (count) => {
          if (count <= n) return;
          listener.onItems = null;
          clearTimeout(timer);
          resolve(performance.now());
        };
      });
    });
    const started = performance.now();
    const ack = writer.edit(n).then((reply) => ({ reply, time: performance.now() }));
    const times = await Promise.all(arrivals);
    const { reply, time: ackTime } = await ack;
    if (reply.type !== "ack") throw new Error(`edit ${n} was refused: ${JSON.stringify(reply)}`);
    if (n >= options.warmup) {
      acks.push(ackTime - started);
      const latencies = [];
      times.forEach((time, i) => {
        if (time === null) {
          lost++;
          return;
        }
        const ms = time - started;
        latencies.push(ms);
        (byUrl[listeners[i].url] ??= []).push(ms);
      });
      perSocket.push(...latencies);
      if (latencies.length === listeners.length) perEdit.push(Math.max(...latencies));
    }
    await sleep(options.gap);
  }
  const cpu = process.cpuUsage(cpuStart);
  const clientCpuMs = (cpu.user + cpu.system) / 1000 / options.repetitions;
  process.stderr.write("measured\n");
  writer.socket.close();
  for (const listener of listeners) listener.socket.close();

  process.stdout.write(
    JSON.stringify({
      system: "django-channels",
      options,
      lost,
    clientCpuMs,
      perSocket: summarize(perSocket),
      lastSocket: summarize(perEdit),
      writerAck: summarize(acks),
      byUrl: Object.fromEntries(Object.entries(byUrl).map(([url, v]) => [url, summarize(v)])),
    }),
  );
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
