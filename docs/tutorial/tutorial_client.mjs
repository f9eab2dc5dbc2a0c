// The client side of Automerge's "Remote storage" tutorial, runnable in Node.
//
// Usage: node docs/tutorial/tutorial_client.mjs BASE_URL DOC_ID [ITEM ...]
//
// BASE_URL is the one thing that differs between servers: documents live at
// `${BASE_URL}/${docId}`, so it is http://localhost:5000 for the tutorial's file
// server and http://127.0.0.1:8000/docs for ours. The command plays one device:
// it loads DOC_ID from the server (loadFromRemote), adds each ITEM as its own
// change (updateDoc, which uploads with saveToRemote) and prints the list it
// holds afterwards. Without items it only loads and prints.
//
// `createDevice` holds the tutorial's three functions, written as the tutorial
// writes them, around one device's `doc`. The differences, all outside what goes
// over the wire: the base URL is a parameter; saveToRemote and updateDoc return
// their promise so a script can wait for the upload; an in-memory Map stands in
// for localforage; and a device starts from the app's empty list (see `startDoc`).
import path from "node:path";
import { fileURLToPath } from "node:url";

import * as Automerge from "@automerge/automerge";

import { todoDocument } from "../../static/todos/doc.js";

const todos = todoDocument(Automerge);

/**
 * The document a new device starts from: the app's empty list.
 *
 * The tutorial starts from `Automerge.init()` and lets the first edit create
 * `items`. Two devices doing that each create their own `items` list, and a
 * merge keeps one of them as the winner of a conflict, hiding the other's
 * items. Every device, and the browser app, instead starts from the same first
 * change (static/todos/doc.js, `create`), so all of them share one `items` list.
 */
export function startDoc() {
  return todos.create();
}

/**
 * One device running the tutorial's client code against `baseUrl`.
 *
 * Returns `{saveToRemote, loadFromRemote, updateDoc, doc}`; `doc` is the
 * device's current document.
 */
export function createDevice(baseUrl, docId, { doc = startDoc(), render = () => {} } = {}) {
  const localforage = new Map(); // what the browser would keep in IndexedDB

  function saveToRemote(docId, binary) {
    return fetch(`${baseUrl}/${docId}`, {
      body: binary,
      method: "post",
      headers: {
        "Content-Type": "application/octet-stream",
      },
    }).catch((err) => console.log(err));
  }

  function updateDoc(newDoc) {
    doc = newDoc;
    render(newDoc);
    let binary = Automerge.save(newDoc);
    localforage.set(docId, binary);
    return saveToRemote(docId, binary); // the line the tutorial adds
  }

  async function loadFromRemote(docId) {
    const response = await fetch(`${baseUrl}/${docId}`);
    if (response.status !== 200) throw new Error("No saved draft for doc with id=" + docId);
    const respbuffer = await response.arrayBuffer();
    if (respbuffer.byteLength === 0) throw new Error("No saved draft for doc with id=" + docId);
    const view = new Uint8Array(respbuffer);
    let newDoc = Automerge.merge(doc, Automerge.load(view));
    doc = newDoc;
    render(newDoc);
  }

  return {
    saveToRemote,
    loadFromRemote,
    updateDoc,
    get doc() {
      return doc;
    },
  };
}

/** The document with one more item, `{text, done: false}`, as one change. */
export function withItem(doc, text) {
  return todos.addItem(doc, text);
}

/** The texts of the document's items, in list order. */
export function itemTexts(doc) {
  return todos.items(doc).map((item) => item.text);
}

/** The list as lines a person reads: `[ ] text` or `[x] text`. */
export function describe(doc) {
  const items = todos.items(doc);
  if (items.length === 0) return ["(no items)"];
  return items.map((item) => `${item.done ? "[x]" : "[ ]"} ${item.text}`);
}

async function main(argv) {
  const [baseUrl, docId, ...items] = argv;
  if (!baseUrl || !docId) {
    throw new Error("usage: node docs/tutorial/tutorial_client.mjs BASE_URL DOC_ID [ITEM ...]");
  }
  const device = createDevice(baseUrl.replace(/\/$/, ""), docId);
  try {
    await device.loadFromRemote(docId);
    console.log(`loaded ${docId}: ${todos.items(device.doc).length} item(s)`);
  } catch (error) {
    console.log(`${error.message}: starting a new list`);
  }
  for (const text of items) {
    const response = await device.updateDoc(withItem(device.doc, text));
    console.log(`added "${text}": the server answered ${response?.status ?? "nothing"}`);
  }
  console.log(describe(device.doc).join("\n"));
}

/** True when this file is the script Node was asked to run (not an import). */
export function isMain(meta) {
  return fileURLToPath(meta.url) === path.resolve(process.argv[1] ?? "");
}

if (isMain(import.meta)) {
  main(process.argv.slice(2)).catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}
