// The baseline for push_latency.mjs: the same measurement with automerge-repo.
//
// Usage:
//   node benchmarks/automerge_repo_push_latency.mjs --url WS [--listeners L]
//        [--repetitions R] [--warmup W] [--gap MS] [--repo-version 1|2]
//
// WS is an @automerge/automerge-repo-sync-server (ws://host:port), or, with
// --repo-version 2, any automerge-repo 2.x sync endpoint, such as this
// project's ws://host:port/automerge-repo. One writer Repo
// and L listener Repos, each with its own BrowserWebSocketClientAdapter connection
// and no storage, as browser tabs would have. The writer creates the document
// {title, items: []}; every listener finds it through the server. W + R times, the
// writer adds one item with handle.change, and every listener waits for its
// handle's "change" event showing the item. The clock starts just before the
// writer's handle.change and stops, per listener, in that event, exactly as in
// push_latency.mjs. The next edit starts --gap ms after every listener has the
// previous one; keep --gap above automerge-repo's 100 ms sync throttle
// (DocSynchronizer.syncDebounceRate), so that the throttle adds no wait.
//
// The automerge-repo packages are the project's pinned devDependencies: 1.2.1
// by default, 2.5.6 (the npm aliases automerge-repo-v2 and
// automerge-repo-network-websocket-v2) with --repo-version 2.
// Prints the same JSON object as push_latency.mjs.

import { readOptions } from "../tests/node/options.mjs";

const DEFAULTS = {
  url: "",
  listeners: "10",
  repetitions: "100",
  warmup: "5",
  gap: "250",
  "arrival-timeout": "30000",
  "repo-version": "1",
};

const VERSION_2 = readOptions(process.argv.slice(2), DEFAULTS)["repo-version"] === "2";
const { Repo } = await import(VERSION_2 ? "automerge-repo-v2" : "@automerge/automerge-repo");
const { BrowserWebSocketClientAdapter } = await import(
  VERSION_2 ? "automerge-repo-network-websocket-v2" : "@automerge/automerge-repo-network-websocket",
);

/** Parse `--name value` arguments over DEFAULTS. */
function parseArgs(argv) {
  const raw = readOptions(argv, DEFAULTS);
  if (!raw.url) throw new Error("--url is required");
  return {
    url: raw.url,
    listeners: Number(raw.listeners),
    repetitions: Number(raw.repetitions),
    warmup: Number(raw.warmup),
    gap: Number(raw.gap),
    arrivalTimeout: Number(raw["arrival-timeout"]),
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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

let disconnects = 0;

/** A Repo with one WebSocket connection to the sync server and no storage. */
function makeRepo(url) {
  const repo = new Repo({ network: [new BrowserWebSocketClientAdapter(url)] });
  // A dropped connection is retried after 5 s; count them, they explain outliers.
  repo.networkSubsystem.on("peer-disconnected", () => disconnects++);
  return repo;
}

/** Find the document through the server, retrying until the server has it. */
async function findDocument(repo, documentUrl) {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      // 2.x: find returns a promise of a ready handle; 1.x: a handle to wait for.
      if (VERSION_2) return await repo.find(documentUrl);
      const handle = repo.find(documentUrl);
      await handle.whenReady();
      return handle;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`the sync server never offered ${documentUrl}`);
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const writerRepo = makeRepo(options.url);
  const writer = writerRepo.create({ title: "Push latency", items: [] });
  const listenerRepos = Array.from({ length: options.listeners }, () => makeRepo(options.url));
  // The first listener's find waits until the server has the document from the
  // writer; the others then find it at once.
  const first = await findDocument(listenerRepos[0], writer.url);
  const handles = [first];
  handles.push(
    ...(await Promise.all(
      listenerRepos.slice(1).map((repo) => findDocument(repo, writer.url)),
    )),
  );

  const perSocket = [];
  const perEdit = [];
  let lost = 0;
  let cpuStart = process.cpuUsage();
  for (let n = 0; n < options.warmup + options.repetitions; n++) {
    if (n === options.warmup) {
      // The runner samples the servers' CPU between these two lines.
      process.stderr.write("measuring\n");
      cpuStart = process.cpuUsage();
    }
    const arrivals = handles.map((handle) => {
      return new Promise((resolve) => {
        const onChange = ({ doc }) => {
          if (doc.items.length <= n) return;
          handle.off("change", onChange);
          clearTimeout(timer);
          resolve(performance.now());
        };
        const timer = setTimeout(() => {
          handle.off("change", onChange);
          resolve(null);
        }, options.arrivalTimeout);
        handle.on("change", onChange);
      });
    });
    const started = performance.now();
    writer.change((d) => {
      d.items.push({ text: `edit-${n}`, done: false });
    });
    const times = await Promise.all(arrivals);
    if (n >= options.warmup) {
      const latencies = times.filter((t) => t !== null).map((t) => t - started);
      lost += times.length - latencies.length;
      perSocket.push(...latencies);
      if (latencies.length === handles.length) perEdit.push(Math.max(...latencies));
    }
    await sleep(options.gap);
  }

  const cpu = process.cpuUsage(cpuStart);
  const clientCpuMs = (cpu.user + cpu.system) / 1000 / options.repetitions;
  process.stderr.write("measured\n");
  const report = {
    system: VERSION_2 ? "automerge-repo 2.x" : "automerge-repo",
    options,
    lost,
    clientCpuMs,
    disconnects,
    perSocket: summarize(perSocket),
    lastSocket: summarize(perEdit),
    byUrl: { [options.url]: summarize(perSocket) },
  };
  process.stdout.write(JSON.stringify(report), () => process.exit(0));
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
