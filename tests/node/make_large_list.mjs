// Write a genuine Automerge todo list whose save() is just under a size, with
// long item texts mixing Latin, CJK and emoji, made by several actors.
//
// Usage: node tests/node/make_large_list.mjs <target-bytes> <out-file>
// Also writes <out-file>.next: one more change (an edit of the last item's text)
// to upload on top, and prints {"items": n, "changes": n, "size": n, "heads": [...]}.
import { writeFileSync } from "node:fs";

import * as Automerge from "@automerge/automerge";

const [target, out] = [Number(process.argv[2]), process.argv[3]];
if (!target || !out) {
  console.error("usage: node tests/node/make_large_list.mjs <target-bytes> <out-file>");
  process.exit(2);
}

// A small deterministic PRNG (mulberry32), so every run makes the same list.
let seed = 20261204;
function random() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const WORDS = [
  "milk", "bread", "réunion", "naïve", "Straße", "café", "日本語", "買い物",
  "東京", "牛乳", "中文字符", "한국어", "🎉", "👩‍👩‍👧", "🚀", "✅", "ünïcode",
  "Ελληνικά", "русский", "العربية", "emoji😀mix", "long-compound-word",
];
function text(length) {
  let s = "";
  while (s.length < length) s += WORDS[Math.floor(random() * WORDS.length)] + " ";
  return s.slice(0, length);
}

const ACTORS = ["aa", "bb", "cc", "dd"].map((a) => a.repeat(16));
const BYTES_PER_ITEM = 260; // a save's bytes per 800-character item, measured
const base = Automerge.from({ title: "A genuine large list", items: [] }, { actor: ACTORS[0] });
// Each actor adds batches of items on its own copy (concurrent edits), and the
// copies are merged at the end: saving or cloning after every batch would cost
// a pass over the whole document each time.
const copies = ACTORS.map((actor) => Automerge.clone(base, { actor }));
const batches = Math.floor((target * 0.93) / BYTES_PER_ITEM / 40);
for (let batch = 0; batch < batches; batch++) {
  const k = batch % copies.length;
  copies[k] = Automerge.change(copies[k], (d) => {
    for (let i = 0; i < 40; i++) d.items.push({ text: text(800), done: random() < 0.3 });
  });
}
let doc = copies.reduce((merged, copy) => Automerge.merge(merged, copy));
// Fill up to just under the target with smaller items, measuring now and then.
while (Automerge.save(doc).length < target * 0.97) {
  doc = Automerge.change(doc, (d) => {
    for (let i = 0; i < 20; i++) d.items.push({ text: text(200), done: false });
  });
}
if (Automerge.save(doc).length > target) throw new Error("overshot the target size");
const bytes = Automerge.save(doc);
writeFileSync(out, bytes);
const next = Automerge.change(Automerge.clone(doc, { actor: ACTORS[1] }), (d) => {
  Automerge.splice(d, ["items", d.items.length - 1, "text"], 0, 0, "edited ✏️ 編集 ");
});
writeFileSync(`${out}.next`, Automerge.getLastLocalChange(next));
process.stdout.write(
  JSON.stringify({
    items: doc.items.length,
    changes: Automerge.getAllChanges(doc).length,
    size: bytes.length,
    heads: Automerge.getHeads(next),
  }),
);
