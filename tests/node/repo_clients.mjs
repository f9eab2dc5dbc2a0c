// automerge-repo 2.x clients (unmodified Repo + WebSocket client adapter) against
// the Django server's /automerge-repo endpoint, and one client of the app's own
// socket (/ws/docs/<id>), as tests/test_repo_sync.py runs them.
//
//   node tests/node/repo_clients.mjs converge <repo url A> <repo url B> <app ws base>
//     Repo A creates a list; Repo B finds it by its URL; then A, B and the app
//     client each add an item at once; prints what each ends with.
//   node tests/node/repo_clients.mjs open <repo url> <document id>
//     Finds the document by its id and prints it.
//   node tests/node/repo_clients.mjs edit <repo url> <document id> <text> <awaited>
//     Finds the document, prints a line with its items, adds an item <text>,
//     waits until an item <awaited> arrives, and prints its items as JSON.

import * as Automerge from "@automerge/automerge";
import { Repo } from "automerge-repo-v2";
import { WebSocketClientAdapter } from "automerge-repo-network-websocket-v2";
import { ensureWebSocket } from "./websocket.mjs";
import { Waiters } from "./waiters.mjs";

ensureWebSocket(import.meta.url);

const WAIT_MS = 20000;
const texts = (doc) => (doc?.items ?? []).map((item) => String(item.text)).sort();

function repoAt(url) {
  return new Repo({ network: [new WebSocketClientAdapter(url, 500)] });
}

/** A client of the app's own socket: loads the first frame, uploads changes. */
class AppClient {
  constructor(url) {
    this.waiters = new Waiters();
    this.doc = Automerge.init();
    // The origin a page of the server would send (the app's socket checks it).
    const origin = url.replace(/^ws/, "http").replace(/\/ws\/docs\/.*$/, "");
    this.socket = new WebSocket(url, { headers: { origin } });
    this.socket.binaryType = "arraybuffer";
    this.opened = new Promise((resolve) => this.socket.addEventListener("open", resolve));
    this.socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") return; // acks and heads
      this.doc = Automerge.loadIncremental(this.doc, new Uint8Array(event.data));
      this.waiters.notify();
    });
  }

  change(callback) {
    this.doc = Automerge.change(this.doc, callback);
    this.socket.send(Automerge.getLastLocalChange(this.doc));
  }
}

async function waitForHttp(httpUrl, id, predicate) {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    const response = await fetch(`${httpUrl}/docs/${id}`);
    if (response.ok) {
      const doc = Automerge.load(new Uint8Array(await response.arrayBuffer()));
      if (predicate(doc)) return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

async function waitUntil(predicate) {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline && !predicate()) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return predicate();
}

async function converge(urlA, urlB, appBase) {
  const httpUrl = urlA.replace(/^ws/, "http").replace(/\/automerge-repo\/?$/, "");
  const repoA = repoAt(urlA);
  const repoB = repoAt(urlB);
  const handleA = repoA.create({ title: "", items: [] });
  handleA.change((d) => d.items.push({ text: "from repo A", done: false }));
  const id = handleA.documentId;
  const stored = await waitForHttp(httpUrl, id, (doc) => texts(doc).length === 1);
  const handleB = await repoB.find(handleA.url);
  const foundByB = texts(handleB.doc());

  const app = new AppClient(`${appBase}/ws/docs/${id}`);
  await app.opened;
  await app.waiters.waitFor(() => texts(app.doc).length === 1, WAIT_MS);
  // At once: each of the three writes an item.
  handleA.change((d) => d.items.push({ text: "A, concurrent", done: false }));
  handleB.change((d) => d.items.push({ text: "B, concurrent", done: true }));
  app.change((d) => d.items.push({ text: "app, concurrent", done: false }));
  const all = (doc) => texts(doc).length === 4;
  const converged = await waitUntil(
    () => all(handleA.doc()) && all(handleB.doc()) && all(app.doc),
  );
  const report = {
    id,
    url: handleA.url,
    stored,
    foundByB,
    converged,
    a: texts(handleA.doc()),
    b: texts(handleB.doc()),
    app: texts(app.doc),
    heads: {
      a: Automerge.getHeads(handleA.doc()).sort(),
      b: Automerge.getHeads(handleB.doc()).sort(),
      app: Automerge.getHeads(app.doc).sort(),
    },
  };
  app.socket.close();
  await Promise.all([repoA.shutdown(), repoB.shutdown()]);
  return report;
}

async function open(url, id) {
  const repo = repoAt(url);
  try {
    const handle = await repo.find(id);
    return { found: true, doc: handle.doc() };
  } catch (error) {
    return { found: false, error: String(error) };
  } finally {
    // A find refused before the socket opened leaves nothing to shut down.
    try {
      await repo.shutdown();
    } catch {}
  }
}

async function edit(url, id, text, awaited) {
  const repo = repoAt(url);
  const handle = await repo.find(id);
  process.stdout.write(`found ${JSON.stringify(texts(handle.doc()))}\n`);
  handle.change((d) => d.items.push({ text, done: false }));
  const arrived = await waitUntil(() => texts(handle.doc()).includes(awaited));
  const report = { arrived, items: texts(handle.doc()) };
  await repo.shutdown();
  return report;
}

const SCENARIOS = { converge, open, edit };
const [scenario, ...args] = process.argv.slice(2);
const report = await SCENARIOS[scenario](...args);
process.stdout.write(JSON.stringify(report));
process.exit(0);
