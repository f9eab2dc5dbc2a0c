// Write real Automerge documents for the admin, display and command tests.
//
// Usage: node tests/node/make_docs.mjs <out-dir>
// Writes one file per case, named <case>.automerge (Automerge.save of the final
// state), the clients' uploads that lead to it where the case has them
// (<case>.saveN), concurrent.change_a1 and .change_b (single change chunks),
// orphan_change.automerge (a change whose dependency is missing),
// and manifest.json describing what each document holds as Automerge itself reads
// it (title, items, change count, heads).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import * as Automerge from "@automerge/automerge";

const ACTOR_A = "aa".repeat(16);
const ACTOR_B = "bb".repeat(16);

/** A list with a title, three items, one done. */
function simpleList() {
  let doc = Automerge.from(
    {
      title: "Groceries",
      items: [
        { text: "milk", done: false },
        { text: "bread", done: true },
        { text: "eggs", done: false },
      ],
    },
    { actor: ACTOR_A },
  );
  return { doc, bytes: Automerge.save(doc) };
}

/** Two actors edit the same list concurrently; the merge holds both edits. */
function concurrentEdits() {
  let base = Automerge.from(
    { title: "Shared", items: [{ text: "plan trip", done: false }] },
    { actor: ACTOR_A },
  );
  let other = Automerge.clone(base, { actor: ACTOR_B });
  base = Automerge.change(base, "A adds", (d) => {
    d.items.push({ text: "book hotel", done: false });
    d.items[0].done = true;
  });
  other = Automerge.change(other, "B adds", (d) => {
    d.items.push({ text: "pack bags", done: false });
    Automerge.splice(d, ["items", 0, "text"], 0, 0, "Please ");
  });
  const merged = Automerge.merge(Automerge.clone(base), other);
  // What the clients upload: each its full save (the two share the first
  // change), or A its save and B only its new change.
  const saves = [Automerge.save(base), Automerge.save(other)];
  const changes = {
    change_a1: Automerge.getAllChanges(base)[0],
    change_b: Automerge.getLastLocalChange(other),
  };
  return { doc: merged, bytes: Automerge.save(merged), saves, changes };
}

/** Non-ASCII and emoji in the title and items. */
function unicodeList() {
  let doc = Automerge.from(
    {
      title: "Żółć – café ☕",
      items: [
        { text: "naïve résumé", done: false },
        { text: "日本語のテキスト", done: true },
        { text: "party 🎉👩‍👩‍👧 done", done: false },
      ],
    },
    { actor: ACTOR_A },
  );
  doc = Automerge.change(doc, "edit emoji", (d) => {
    Automerge.splice(d, ["items", 2, "text"], 0, 0, "🚀 ");
  });
  return { doc, bytes: Automerge.save(doc) };
}

/** A list without a title, as the tutorial's schema allows. */
function untitledList() {
  const doc = Automerge.from(
    { items: [{ text: "only item", done: false }] },
    { actor: ACTOR_B },
  );
  return { doc, bytes: Automerge.save(doc) };
}

/** A change whose dependency is missing: chunk-level valid, but no document loads it. */
function orphanChange() {
  let doc = Automerge.from({ items: [] }, { actor: ACTOR_A });
  doc = Automerge.change(doc, (d) => {
    d.items.push({ text: "lost", done: false });
  });
  return Automerge.getLastLocalChange(doc);
}

/** What Automerge itself reads in a document: title, items, change count, heads. */
function describe(doc) {
  return {
    title: doc.title === undefined ? null : String(doc.title),
    items: (doc.items || []).map((item) => ({ text: String(item.text), done: !!item.done })),
    changes: Automerge.getAllChanges(doc).length,
    heads: Automerge.getHeads(doc),
  };
}

const outDir = process.argv[2];
if (!outDir) {
  console.error("usage: node tests/node/make_docs.mjs <out-dir>");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const cases = {
  simple: simpleList(),
  concurrent: concurrentEdits(),
  unicode: unicodeList(),
  untitled: untitledList(),
};
const manifest = {};
for (const [name, { doc, bytes, saves = [] }] of Object.entries(cases)) {
  writeFileSync(join(outDir, `${name}.automerge`), bytes);
  saves.forEach((save, i) => writeFileSync(join(outDir, `${name}.save${i}.automerge`), save));
  manifest[name] = { ...describe(doc), saves: saves.length };
}
// Single changes, for the history of change chunks.
for (const [name, change] of Object.entries(cases.concurrent.changes)) {
  writeFileSync(join(outDir, `concurrent.${name}.automerge`), change);
}
writeFileSync(join(outDir, "orphan_change.automerge"), orphanChange());
writeFileSync(join(outDir, "manifest.json"), JSON.stringify(manifest, null, 2));
