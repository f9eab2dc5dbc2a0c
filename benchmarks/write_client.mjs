// Time sequential writes of real Automerge bytes to one document on one server.
//
// Usage:
//   node benchmarks/write_client.mjs --url DOC_URL --items N --mode M
//                                    [--repetitions R] [--warmup W]
//
// DOC_URL is the document's own URL (our server: http://host:port/docs/<id>; the
// tutorial's: http://host:port/<id>). The client builds a list of N items, one
// change per item (as a person would add them), uploads Automerge.save() of it,
// then makes W + R more edits, each adding one item, and uploads each one:
//   incremental: Automerge.saveIncremental(doc), just the new change;
//   save:        Automerge.save(doc), the whole document with the new change.
//   floor:       store an empty list once, then time GETs of it (about 100
//                bytes): what a minimal request costs on that server.
// Only the request is timed (from sending the body to the end of the answer), on
// one keep-alive connection, one request at a time; the first W are warm-up and
// not counted. Afterwards the stored document is fetched and checked to hold every
// item. Prints one JSON object: latencies in milliseconds (median, p90, p99, mean,
// and the medians of the first and last tenth of the timed writes), writes per
// second (1000 / mean latency), and how many chunks our server reported storing.
import http from "node:http";

import * as Automerge from "@automerge/automerge";

const MODES = ["incremental", "save", "floor"];

/** Parse `--name value` arguments. */
function parseArgs(argv) {
  const options = { url: "", items: 10, mode: "incremental", repetitions: 200, warmup: 20 };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, "");
    if (!(name in options)) throw new Error(`unknown option ${argv[i]}`);
    options[name] = name === "url" || name === "mode" ? argv[i + 1] : Number(argv[i + 1]);
  }
  if (!options.url) throw new Error("--url is required");
  if (!MODES.includes(options.mode)) throw new Error(`--mode must be one of ${MODES}`);
  return options;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** Send one request on the keep-alive agent; resolve {status, body, ms}. */
function request(url, method, body) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const headers = body ? { "Content-Type": "application/octet-stream" } : {};
    if (body) headers["Content-Length"] = body.length;
    const req = http.request(url, { method, agent, headers }, (response) => {
      const parts = [];
      response.on("data", (part) => parts.push(part));
      response.on("end", () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        resolve({ status: response.statusCode, body: Buffer.concat(parts), ms });
      });
    });
    req.on("error", reject);
    req.end(body ? Buffer.from(body.buffer, body.byteOffset, body.length) : undefined);
  });
}

/** A list of `count` items, added one change at a time. */
function buildList(count) {
  let doc = Automerge.from({ title: "Benchmark", items: [] });
  for (let i = 0; i < count; i++) {
    doc = Automerge.change(doc, (d) => {
      d.items.push({ text: `Todo item number ${i}, to be done`, done: i % 3 === 0 });
    });
  }
  return doc;
}

/** The value below which `fraction` of the sorted `values` fall (nearest rank). */
function percentile(sorted, fraction) {
  const rank = Math.ceil(fraction * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/** POST bytes; throw unless the server accepted them; return {ms, chunks}. */
async function write(url, bytes) {
  const answer = await request(url, "POST", bytes);
  if (answer.status !== 200) {
    throw new Error(`POST ${url} answered ${answer.status}: ${answer.body.toString()}`);
  }
  let chunks = null;
  try {
    chunks = JSON.parse(answer.body.toString()).chunks ?? null;
  } catch {
    // the tutorial's server answers "ok"
  }
  return { ms: answer.ms, chunks };
}

/** The median of `values` (upper median for an even count). */
function median(values) {
  return [...values].sort((a, b) => a - b)[values.length >> 1];
}

/** Store an empty list, then time W + R GETs of it; return the timed ones. */
async function timeSmallReads(options) {
  await write(options.url, Automerge.save(Automerge.from({ items: [] })));
  const latencies = [];
  for (let i = 0; i < options.warmup + options.repetitions; i++) {
    const answer = await request(options.url, "GET");
    if (answer.status !== 200) {
      throw new Error(`GET ${options.url} answered ${answer.status}, expected 200`);
    }
    if (i >= options.warmup) latencies.push(answer.ms);
  }
  return latencies;
}

/** Latency figures (ms) and writes per second for a list of latencies. */
function summarise(latencies) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const mean = latencies.reduce((a, b) => a + b, 0) / latencies.length;
  const tenth = Math.max(1, Math.floor(latencies.length / 10));
  return {
    medianMs: percentile(sorted, 0.5),
    p90Ms: percentile(sorted, 0.9),
    p99Ms: percentile(sorted, 0.99),
    meanMs: mean,
    writesPerSecond: 1000 / mean,
    firstTenthMedianMs: median(latencies.slice(0, tenth)),
    lastTenthMedianMs: median(latencies.slice(-tenth)),
    latenciesMs: latencies,
  };
}

/** Store a list, then time W + R sequential writes of one new item each. */
async function timeWrites(options) {
  let doc = buildList(options.items);
  const base = Automerge.save(doc);
  await write(options.url, base);

  const latencies = [];
  const bodies = [];
  const chunks = [];
  const total = options.warmup + options.repetitions;
  for (let i = 0; i < total; i++) {
    doc = Automerge.change(doc, (d) => {
      d.items.push({ text: `Added during the benchmark, number ${i}`, done: false });
    });
    const bytes =
      options.mode === "incremental" ? Automerge.saveIncremental(doc) : Automerge.save(doc);
    const answer = await write(options.url, bytes);
    if (i >= options.warmup) {
      latencies.push(answer.ms);
      bodies.push(bytes.length);
      chunks.push(answer.chunks);
    }
  }

  const stored = await request(options.url, "GET");
  const loaded = Automerge.load(new Uint8Array(stored.body));
  const expected = options.items + total;
  if (loaded.items.length !== expected) {
    throw new Error(`stored document has ${loaded.items.length} items, not ${expected}`);
  }
  return {
    baseBytes: base.length,
    bodyBytesMedian: median(bodies),
    storedBytes: stored.body.length,
    // Chunks the server reported storing after the first and last timed write
    // (null for the tutorial's server, which stores one file).
    firstChunks: chunks[0],
    lastChunks: chunks[chunks.length - 1],
    latencies,
  };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const { items, mode, repetitions, warmup } = options;
  let report;
  if (mode === "floor") {
    report = summarise(await timeSmallReads(options));
  } else {
    const { latencies, ...sizes } = await timeWrites(options);
    report = { ...sizes, ...summarise(latencies) };
  }
  agent.destroy();
  process.stdout.write(JSON.stringify({ items, mode, repetitions, warmup, ...report }));
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
