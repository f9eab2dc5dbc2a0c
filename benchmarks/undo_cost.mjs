// What one undo costs beside the edit it reverts, on lists of growing size.
//
// Usage: node benchmarks/undo_cost.mjs [items ...]   (default: 100 1000 5000)
//
// For each size it builds a list of that many items (one change each), then
// alternates, ROUNDS times, on a different item each round: a toggle made
// straight through the store (the baseline: what an edit cost before undo),
// the same toggle undone that way, the toggle made through the UndoHistory
// (which also snapshots the list and records what the edit altered), and its
// undo. Prints medians in ms and the ratios against the baseline.
import * as Automerge from '@automerge/automerge';

import { todoDocument } from '../static/todos/doc.js';
import { MemoryStorage } from '../static/todos/persistence.js';
import { Store } from '../static/todos/store.js';
import { UndoHistory, undoOperations } from '../static/todos/undo.js';

const ROUNDS = 30;
const todos = todoDocument(Automerge);
const operations = undoOperations(Automerge);

function median(values) {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.floor(sorted.length / 2)];
}

function timed(action) {
	const start = performance.now();
	const changed = action();
	const elapsed = performance.now() - start;
	if (!changed) {
		throw new Error('the measured action changed nothing');
	}
	return elapsed;
}

async function measure(size) {
	let doc = todos.create();
	for (let index = 0; index < size; index += 1) {
		doc = todos.addItem(doc, `item ${index}: some words to make a realistic line`);
	}
	const store = await new Store({ Automerge, docId: `bench-${size}`, create: () => doc, storage: new MemoryStorage() }).open();
	const undo = new UndoHistory({ store, operations });
	const plain = [];
	const recorded = [];
	const undone = [];
	for (let round = 0; round < ROUNDS; round += 1) {
		const { id } = todos.items(store.doc)[(round * 7919) % size];
		plain.push(timed(() => store.change((current) => todos.setDone(current, id, true))));
		store.change((current) => todos.setDone(current, id, false));
		recorded.push(timed(() => undo.change((current) => todos.setDone(current, id, true))));
		undone.push(timed(() => undo.undo()));
	}
	const [edit, withUndo, reverted] = [plain, recorded, undone].map(median);
	return {
		items: size,
		edit_ms: edit.toFixed(2),
		recorded_edit_ms: withUndo.toFixed(2),
		undo_ms: reverted.toFixed(2),
		recorded_ratio: (withUndo / edit).toFixed(2),
		undo_ratio: (reverted / edit).toFixed(2),
	};
}

const sizes = process.argv.slice(2).map(Number);
for (const size of sizes.length ? sizes : [100, 1000, 5000]) {
	console.log(JSON.stringify(await measure(size)));
}
