// Many Automerge clients race to upload diverging copies of one document.
//
// Usage:
//   node tests/node/race_clients.mjs --urls URL[,URL...] --doc ID [options]
//
// Each URL is a document base: the client GETs and POSTs `${url}${doc}`, so our
// server is given as http://host:port/docs/ and the tutorial's as http://host:port/.
// Client i talks to urls[i % urls.length].
//
// Options:
//   --clients N        concurrent clients (default 16)
//   --rounds N         edits per client (default 12)
//   --mode M           save: upload Automerge.save(doc) after every edit;
//                      incremental: upload Automerge.saveIncremental(doc), and on
//                      409 fall back to Automerge.save(doc);
//                      mixed: even clients save, odd clients incremental
//   --start S          base: one client uploads a base document and every client
//                      fetches it first, so all edits land in one `items` list;
//                      scratch: every client starts from Automerge.init() and
//                      creates its own `items` list (Automerge keeps the lists as
//                      a conflict on the root's `items` key)
//   --refetch-every K  every K rounds, GET the stored document and merge it (0: never)
//   --drop-every K     incremental clients skip sending every K-th round's upload
//                      (never the last), as if the request were lost on the way,
//                      so their next upload depends on a change the server lacks
//   --compact          afterwards, upload Automerge.save() of the merged state and
//                      check that the server stores it as one chunk
//
// All clients run in this process, each with its own document and its own actor;
// they fetch the base, wait for each other, then start editing at the same moment.
// Afterwards the stored document is fetched from every URL, loaded with
// Automerge.load, and searched for every edit. The report is one JSON object on
// stdout; the exit status is 0 unless the script itself failed.
import * as Automerge from "@automerge/automerge";

const DEFAULTS = {
  urls: "",
  doc: "",
  clients: "16",
  rounds: "12",
  mode: "mixed",
  start: "base",
  "refetch-every": "4",
  "drop-every": "0",
  compact: false,
};
const MODES = ["save", "incremental", "mixed"];
const STARTS = ["base", "scratch"];
const CONFLICT = 409;
const MAX_ERROR_BODIES = 5;

/** Parse `--name value` and `--flag` arguments over DEFAULTS. */
function parseArgs(argv) {
  const options = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, "");
    if (!(name in DEFAULTS)) throw new Error(`unknown option ${argv[i]}`);
    options[name] = typeof DEFAULTS[name] === "boolean" ? true : argv[++i];
  }
  if (!options.urls || !options.doc) throw new Error("--urls and --doc are required");
  if (!MODES.includes(options.mode)) throw new Error(`--mode must be one of ${MODES}`);
  if (!STARTS.includes(options.start)) throw new Error(`--start must be one of ${STARTS}`);
  return {
    urls: options.urls.split(","),
    doc: options.doc,
    clients: Number(options.clients),
    rounds: Number(options.rounds),
    mode: options.mode,
    start: options.start,
    refetchEvery: Number(options["refetch-every"]),
    dropEvery: Number(options["drop-every"]),
    compact: options.compact,
  };
}

/** GET the stored document's bytes, or null on 404. */
async function fetchDocument(url) {
  const response = await fetch(url);
  if (response.status === 404) return null;
  if (response.status !== 200) {
    throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

// Uploads in flight right now, and the most there ever were: the race is real
// only if many clients' uploads are at the server at the same time.
const inFlight = { now: 0, max: 0 };

/** POST bytes; return {status, body} where body is parsed JSON when it is JSON. */
async function upload(url, bytes) {
  inFlight.max = Math.max(inFlight.max, ++inFlight.now);
  let response, text;
  try {
    response = await fetch(url, {
      method: "POST",
      body: bytes,
      headers: { "Content-Type": "application/octet-stream" },
    });
    text = await response.text();
  } finally {
    inFlight.now--;
  }
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {
    // the tutorial's server answers plain text
  }
  return { status: response.status, body };
}

/** The text of the item a client pushes in a round: unique across the race. */
function itemText(client, round) {
  return `client-${client}-item-${round}`;
}

/** One racing client: its own document, its own actor, its own server. */
class Client {
  constructor(index, url, options, stats) {
    this.index = index;
    this.url = url;
    this.options = options;
    this.stats = stats;
    this.incremental =
      options.mode === "incremental" || (options.mode === "mixed" && index % 2 === 1);
    this.doc = null;
    this.markedDone = [];
  }

  /** Start from the stored base document, or from scratch with an own list. */
  async begin() {
    if (this.options.start === "base") {
      const bytes = await fetchDocument(this.url);
      if (bytes === null) throw new Error(`client ${this.index}: no base at ${this.url}`);
      this.doc = Automerge.load(bytes);
      // Nothing to upload yet: the base is stored already.
      Automerge.saveIncremental(this.doc);
    } else {
      this.doc = Automerge.change(Automerge.init(), (d) => {
        d.items = [];
      });
    }
  }

  /** Play every round: maybe merge the stored copy, edit, upload. */
  async run() {
    for (let round = 0; round < this.options.rounds; round++) {
      const every = this.options.refetchEvery;
      if (every > 0 && round > 0 && round % every === 0) await this.refetch();
      this.edit(round);
      await this.send(round);
    }
  }

  /** Merge the stored document into ours, as the tutorial's loadFromRemote does. */
  async refetch() {
    const bytes = await fetchDocument(this.url);
    this.stats.refetches++;
    if (bytes !== null) this.doc = Automerge.merge(this.doc, Automerge.load(bytes));
  }

  /** Push this round's item and mark the previous round's item done. */
  edit(round) {
    const previous = round > 0 ? itemText(this.index, round - 1) : null;
    let marked = false;
    this.doc = Automerge.change(this.doc, (d) => {
      d.items.push({ text: itemText(this.index, round), done: false });
      const item = previous && d.items.find((it) => it.text === previous);
      if (item) {
        item.done = true;
        marked = true;
      }
    });
    if (marked) this.markedDone.push(previous);
  }

  /** Upload this round's edit the way this client's mode says. */
  async send(round) {
    if (!this.incremental) {
      await this.post(Automerge.save(this.doc), "save");
      return;
    }
    const changes = Automerge.saveIncremental(this.doc);
    const drop = this.options.dropEvery;
    if (drop > 0 && round % drop === drop - 1 && round < this.options.rounds - 1) {
      this.stats.dropped++;
      return;
    }
    const answer = await this.post(changes, "incremental");
    if (answer.status === CONFLICT) {
      this.stats.fallbacks++;
      await this.post(Automerge.save(this.doc), "save");
    }
  }

  /** POST bytes and count the answer; anything but 2xx or an expected 409 is an error. */
  async post(bytes, kind) {
    const answer = await upload(this.url, bytes);
    this.stats.uploads[kind]++;
    this.stats.statuses[answer.status] = (this.stats.statuses[answer.status] || 0) + 1;
    const expected = answer.status < 300 || (answer.status === CONFLICT && kind !== "save");
    if (!expected) {
      const error = { client: this.index, kind, ...answer };
      // The refused bytes themselves, to reproduce a refusal (the first few only).
      if (this.stats.errors.length < MAX_ERROR_BODIES) {
        error.base64 = Buffer.from(bytes).toString("base64");
      }
      this.stats.errors.push(error);
    }
    return answer;
  }
}

/** Every item text in the document: the visible list and any conflicting lists. */
function itemsOf(doc) {
  // getConflicts answers only when there is more than one value.
  const conflicts = Object.values(Automerge.getConflicts(doc, "items") || {});
  const lists = conflicts.length > 0 ? conflicts : doc.items ? [doc.items] : [];
  const all = new Map();
  for (const list of lists) {
    for (const item of list) all.set(String(item.text), item.done);
  }
  return { all, lists: lists.length, visible: doc.items ? doc.items.length : 0 };
}

/** Load the stored document from one URL and check every client's every edit. */
async function verify(url, clients, options) {
  const bytes = await fetchDocument(url);
  if (bytes === null) return { url, found: false };
  const doc = Automerge.load(bytes);
  const { all, lists, visible } = itemsOf(doc);
  const missing = [];
  const notDone = [];
  for (const client of clients) {
    for (let round = 0; round < options.rounds; round++) {
      const text = itemText(client.index, round);
      if (!all.has(text)) missing.push(text);
    }
    for (const text of client.markedDone) {
      if (all.has(text) && all.get(text) !== true) notDone.push(text);
    }
  }
  return {
    url,
    found: true,
    bytes: bytes.length,
    missingDeps: Automerge.getMissingDeps(doc, []).length,
    heads: Automerge.getHeads(doc).sort(),
    items: all.size,
    visibleItems: visible,
    itemLists: lists,
    missingCount: missing.length,
    missing: missing.slice(0, 20),
    notDoneCount: notDone.length,
    notDone: notDone.slice(0, 20),
    doc,
    data: bytes,
  };
}

/** Re-upload the stored bytes, then a save() of them; report what the server said
 * and whether what it then serves loads with the same heads. */
async function compact(url, stored) {
  const reupload = await upload(url, stored.data);
  const saved = Automerge.save(stored.doc);
  const ack = await upload(url, saved);
  const again = await upload(url, saved);
  const after = await fetchDocument(url);
  return {
    reuploadStatus: reupload.status,
    reuploadChanged: reupload.body.changed,
    reuploadChunks: reupload.body.chunks,
    reuploadHeadsMatch:
      JSON.stringify([...(reupload.body.heads || [])].sort()) ===
      JSON.stringify(stored.heads),
    saveStatus: ack.status,
    saveChanged: ack.body.changed,
    saveChunks: ack.body.chunks,
    saveSize: ack.body.size,
    savedBytes: saved.length,
    saveHeadsMatch: JSON.stringify([...(ack.body.heads || [])].sort()) === JSON.stringify(stored.heads),
    againStatus: again.status,
    againChanged: again.body.changed,
    againChunks: again.body.chunks,
    afterHeadsMatch:
      after !== null &&
      JSON.stringify([...Automerge.getHeads(Automerge.load(after))].sort()) ===
        JSON.stringify(stored.heads),
  };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const urls = options.urls.map((base) => `${base}${options.doc}`);
  const stats = {
    uploads: { save: 0, incremental: 0 },
    statuses: {},
    fallbacks: 0,
    dropped: 0,
    refetches: 0,
    errors: [],
  };
  if (options.start === "base") {
    const base = Automerge.from({ title: "Race", items: [] });
    const answer = await upload(urls[0], Automerge.save(base));
    if (answer.status >= 300) throw new Error(`base upload answered ${answer.status}`);
  }
  const clients = Array.from(
    { length: options.clients },
    (_, i) => new Client(i, urls[i % urls.length], options, stats),
  );
  await Promise.all(clients.map((client) => client.begin()));
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(clients.map((client) => client.run()));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  stats.maxUploadsInFlight = inFlight.max;

  const checks = [];
  for (const url of urls) checks.push(await verify(url, clients, options));
  const report = {
    options: { ...options, urls },
    seconds,
    // This process's CPU time (user + system) while the clients raced.
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    stats,
    expectedItems: options.clients * options.rounds,
    expectedDone: clients.reduce((n, c) => n + c.markedDone.length, 0),
    sameEverywhere: checks.every(
      (c) => c.found && JSON.stringify(c.heads) === JSON.stringify(checks[0].heads),
    ),
    checks: checks.map(({ doc, data, ...summary }) => summary),
  };
  if (options.compact && checks[0].found) report.compaction = await compact(urls[0], checks[0]);
  process.stdout.write(JSON.stringify(report));
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
