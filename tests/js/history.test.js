/** Tests of static/todos/history.js: the history in words, over real Automerge documents. */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HistoryWalk, MAX_OWN_ACTORS, OwnActors, changesSince, describeChange, restoreIndex, versionAt } from '../../static/todos/history.js';
import { Automerge, FakeLocalStorage, todos } from './helpers.js';

const idOf = (doc, text) => todos.items(doc).find((item) => item.text === text).id;
const texts = (doc) => todos.items(doc).map((item) => item.text);

/** The whole history of `doc` in words, newest first, walked `pageSize` at a time. */
function historyText(doc, pageSize = 100) {
	const walk = new HistoryWalk(Automerge, Automerge.getHeads(doc), todos.initialHeads());
	const words = [];
	while (walk.hasMore()) {
		words.push(...walk.next(doc, pageSize).map((change) => describeChange(Automerge, todos, doc, change).text));
	}
	return words;
}

/** A list made by a sequence of edits, each its own change. */
function groceries() {
	let doc = todos.create();
	doc = todos.addItem(doc, 'milk');
	doc = todos.addItem(doc, 'eggs');
	doc = todos.addItem(doc, 'bread');
	doc = todos.setDone(doc, idOf(doc, 'eggs'), true);
	doc = todos.setTitle(doc, 'Groceries');
	doc = todos.editText(doc, idOf(doc, 'milk'), 'oat milk');
	return todos.removeItem(doc, idOf(doc, 'bread'));
}

describe('the history in words', () => {
	test('says each change newest first, without the genesis change', () => {
		assert.deepEqual(historyText(groceries()), [
			'deleted “bread”',
			'changed “milk” to “oat milk”',
			'renamed the list to “Groceries”',
			'completed “eggs”',
			'added “bread”',
			'added “eggs”',
			'added “milk”',
		]);
	});

	test('is the same walked one change per page', () => {
		const doc = groceries();
		assert.deepEqual(historyText(doc, 1), historyText(doc));
	});

	test('names several items in one change, and counts the rest', () => {
		let doc = todos.create();
		for (const text of ['a', 'b', 'c', 'd', 'e']) {
			doc = todos.addItem(doc, text);
		}
		doc = todos.setAllDone(doc, true);
		const afterAll = doc;
		doc = todos.setDone(doc, idOf(doc, 'a'), false);
		doc = todos.setDone(doc, idOf(doc, 'b'), false);
		doc = todos.clearCompleted(doc);
		const [cleared, , , allDone] = historyText(doc);
		assert.equal(allDone, 'completed “a”, “b”, “c” and 2 more');
		assert.equal(cleared, 'deleted “c”, “d” and “e”');
		assert.deepEqual(historyText(afterAll).slice(0, 1), ['completed “a”, “b”, “c” and 2 more']);
	});

	test('says when an item was marked not done and when the title was removed', () => {
		let doc = todos.setTitle(todos.addItem(todos.create(), 'milk'), 'Shop');
		doc = todos.setDone(doc, idOf(doc, 'milk'), true);
		doc = todos.setDone(doc, idOf(doc, 'milk'), false);
		doc = todos.setTitle(doc, '');
		assert.deepEqual(historyText(doc).slice(0, 2), ['removed the list’s title', 'marked not done “milk”']);
	});

	test('shortens long item text', () => {
		const doc = todos.addItem(todos.create(), 'x'.repeat(100));
		assert.equal(historyText(doc)[0], `added “${'x'.repeat(39)}…”`);
	});

	test('describes concurrent changes each alone, and the merge keeps both', () => {
		const base = todos.addItem(todos.create(), 'milk');
		const a = todos.setDone(Automerge.clone(base), idOf(base, 'milk'), true);
		const b = todos.addItem(Automerge.clone(base), 'tea');
		const merged = Automerge.merge(a, b);
		assert.deepEqual(historyText(merged).slice(0, 2).sort(), ['added “tea”', 'completed “milk”']);
		assert.equal(historyText(merged).length, 3);
	});

	test('orders by what each change builds on, not by the devices’ clocks', () => {
		let doc = todos.addItem(todos.create(), 'first');
		// A device whose clock is decades behind adds an item after "first"...
		doc = Automerge.change(doc, { time: 1 }, (d) => {
			d.items.push({ text: 'slow clock', done: false });
		});
		doc = todos.addItem(doc, 'last');
		assert.deepEqual(historyText(doc), ['added “last”', 'added “slow clock”', 'added “first”']);
	});

	test('carries each change’s time in ms and its actor', () => {
		const doc = todos.addItem(todos.create(), 'milk');
		const [change] = new HistoryWalk(Automerge, Automerge.getHeads(doc), todos.initialHeads()).next(doc);
		assert.equal(change.actor, Automerge.getActorId(doc));
		assert.ok(Math.abs(change.time - Date.now()) < 5000, `time ${change.time} is not now`);
	});

	test('decodes only the changes of the pages asked for', () => {
		let doc = todos.create();
		for (let index = 0; index < 200; index += 1) {
			doc = todos.addItem(doc, `item ${index}`);
		}
		let inspected = 0;
		const counting = {
			...Automerge,
			inspectChange: (...args) => {
				inspected += 1;
				return Automerge.inspectChange(...args);
			},
		};
		const walk = new HistoryWalk(counting, Automerge.getHeads(doc), todos.initialHeads());
		const page = walk.next(doc, 20);
		assert.equal(page.length, 20);
		assert.ok(inspected <= 21, `decoded ${inspected} changes for a page of 20`);
		assert.ok(walk.hasMore());
	});

	test('changesSince lists what arrived after the walk began, newest first', () => {
		const doc = todos.addItem(todos.create(), 'milk');
		const heads = Automerge.getHeads(doc);
		const later = todos.addItem(todos.addItem(doc, 'eggs'), 'tea');
		const newer = changesSince(Automerge, later, heads);
		assert.deepEqual(
			newer.map((change) => describeChange(Automerge, todos, later, change).text),
			['added “tea”', 'added “eggs”']
		);
	});
});

describe('the list as it was', () => {
	test('shows the items after the change, and the items it deleted where they stood', () => {
		const doc = groceries();
		const [deletion] = new HistoryWalk(Automerge, Automerge.getHeads(doc), todos.initialHeads()).next(doc, 1);
		const current = new Set(todos.items(doc).map((item) => item.id));
		const version = versionAt(Automerge, todos, doc, deletion, current);
		assert.equal(version.title, 'Groceries');
		assert.deepEqual(
			version.items.map(({ text, done, deletedHere, restorable }) => ({ text, done, deletedHere, restorable })),
			[
				{ text: 'oat milk', done: false, deletedHere: false, restorable: false },
				{ text: 'eggs', done: true, deletedHere: false, restorable: false },
				{ text: 'bread', done: false, deletedHere: true, restorable: true },
			]
		);
	});

	test('an older version marks the items deleted since as restorable', () => {
		let doc = todos.addItem(todos.addItem(todos.addItem(todos.create(), 'a'), 'b'), 'c');
		doc = todos.setDone(doc, idOf(doc, 'b'), true);
		const walk = new HistoryWalk(Automerge, Automerge.getHeads(doc), todos.initialHeads());
		const [completedB] = walk.next(doc, 1);
		doc = todos.removeItem(doc, idOf(doc, 'b'));
		const current = new Set(todos.items(doc).map((item) => item.id));
		const version = versionAt(Automerge, todos, doc, completedB, current);
		assert.deepEqual(
			version.items.map((item) => [item.text, item.done, item.restorable]),
			[
				['a', false, false],
				['b', true, true],
				['c', false, false],
			]
		);
	});

	test('does not change the document', () => {
		const doc = groceries();
		const heads = Automerge.getHeads(doc);
		const bytes = Automerge.save(doc);
		const walk = new HistoryWalk(Automerge, heads, todos.initialHeads());
		for (const change of walk.next(doc)) {
			describeChange(Automerge, todos, doc, change);
			versionAt(Automerge, todos, doc, change, new Set());
		}
		assert.deepEqual(Automerge.getHeads(doc), heads);
		assert.deepEqual(Automerge.save(doc), bytes);
	});
});

describe('restoring a deleted item', () => {
	function restore(doc, change, text) {
		const current = todos.items(doc);
		const version = versionAt(Automerge, todos, doc, change, new Set(current.map((item) => item.id)));
		const item = version.items.find((other) => other.text === text);
		return todos.insertItem(doc, restoreIndex(current, version.items, item.id), item);
	}

	test('puts it back at its place, with its completed state, as a new change', () => {
		let doc = todos.addItem(todos.addItem(todos.addItem(todos.create(), 'a'), 'b'), 'c');
		doc = todos.setDone(doc, idOf(doc, 'b'), true);
		doc = todos.removeItem(doc, idOf(doc, 'b'));
		const [deletion] = new HistoryWalk(Automerge, Automerge.getHeads(doc), todos.initialHeads()).next(doc, 1);
		const before = Automerge.getHeads(doc);
		const restored = restore(doc, deletion, 'b');
		assert.deepEqual(
			todos.items(restored).map(({ text, done }) => [text, done]),
			[
				['a', false],
				['b', true],
				['c', false],
			]
		);
		assert.equal(Automerge.getChangesMetaSince(restored, before).length, 1);
		assert.equal(historyText(restored)[0], 'added “b”');
		assert.notEqual(Automerge.getObjectId(restored.items[1], 'text'), null, 'the text is collaborative');
	});

	test('keeps edits made elsewhere meanwhile when merged', () => {
		let doc = todos.addItem(todos.addItem(todos.create(), 'a'), 'b');
		doc = todos.removeItem(doc, idOf(doc, 'b'));
		const [deletion] = new HistoryWalk(Automerge, Automerge.getHeads(doc), todos.initialHeads()).next(doc, 1);
		const other = todos.addItem(todos.setDone(Automerge.clone(doc), idOf(doc, 'a'), true), 'c');
		const merged = Automerge.merge(restore(doc, deletion, 'b'), other);
		// "b" and "c" both went in after "a" concurrently: their order is Automerge's choice.
		assert.equal(texts(merged)[0], 'a');
		assert.deepEqual(texts(merged).slice(1).sort(), ['b', 'c']);
		assert.equal(todos.items(merged)[0].done, true);
	});

	test('goes before the nearest surviving item after it when those before it are gone', () => {
		const version = [{ id: 'x' }, { id: 'gone' }, { id: 'y' }, { id: 'z' }];
		assert.equal(restoreIndex([{ id: 'q' }, { id: 'y' }, { id: 'z' }], version, 'gone'), 1);
		assert.equal(restoreIndex([{ id: 'q' }, { id: 'x' }], version, 'gone'), 2);
		assert.equal(restoreIndex([{ id: 'q' }], version, 'gone'), 1);
	});
});

describe('this browser’s actors', () => {
	test('are remembered across instances sharing the storage', () => {
		const storage = new FakeLocalStorage();
		new OwnActors(storage).add('aa');
		new OwnActors(storage).add('bb');
		const actors = new OwnActors(storage);
		assert.ok(actors.has('aa') && actors.has('bb'));
		assert.ok(!actors.has('cc'));
	});

	test('keep only the newest MAX_OWN_ACTORS', () => {
		const actors = new OwnActors(new FakeLocalStorage());
		for (let index = 0; index <= MAX_OWN_ACTORS; index += 1) {
			actors.add(`actor${index}`);
		}
		assert.ok(!actors.has('actor0'));
		assert.ok(actors.has(`actor${MAX_OWN_ACTORS}`));
		assert.equal(actors.all().size, MAX_OWN_ACTORS);
	});

	test('survive damaged or missing storage', () => {
		const storage = new FakeLocalStorage();
		storage.setItem('todos.ownActors', '{not json');
		assert.equal(new OwnActors(storage).has('aa'), false);
		const none = new OwnActors(null);
		none.add('aa');
		assert.equal(none.has('aa'), false);
	});
});
