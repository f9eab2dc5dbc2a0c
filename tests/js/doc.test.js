/** Tests of static/todos/doc.js: the todo list operations over a real Automerge document. */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Automerge, todos } from './helpers.js';

const texts = (doc) => todos.items(doc).map((item) => item.text);

describe('a new list', () => {
	test('is empty, untitled, and has a random actor', () => {
		const a = todos.create();
		const b = todos.create();
		assert.deepEqual(todos.items(a), []);
		assert.equal(todos.title(a), '');
		assert.notEqual(Automerge.getActorId(a), Automerge.getActorId(b));
	});

	test('starts from the same genesis change on every replica', () => {
		assert.deepEqual(Automerge.getHeads(todos.create()), todos.initialHeads());
		assert.deepEqual(Automerge.getHeads(todos.create()), Automerge.getHeads(todos.create()));
	});

	test('started offline on two devices keeps both devices items when merged', () => {
		const a = todos.addItem(todos.create(), 'from a');
		const b = todos.addItem(todos.create(), 'from b');
		assert.deepEqual(texts(Automerge.merge(a, b)).sort(), ['from a', 'from b']);
	});
});

describe('adding items', () => {
	test('appends the trimmed text, not done', () => {
		const doc = todos.addItem(todos.addItem(todos.create(), '  milk  '), 'eggs');
		assert.deepEqual(
			todos.items(doc).map(({ text, done }) => ({ text, done })),
			[
				{ text: 'milk', done: false },
				{ text: 'eggs', done: false },
			]
		);
	});

	test('adds nothing for empty or blank text', () => {
		const doc = todos.create();
		assert.equal(todos.addItem(doc, ''), doc);
		assert.equal(todos.addItem(doc, ' \t '), doc);
	});

	test('stores the text as collaborative text', () => {
		const doc = todos.addItem(todos.create(), 'milk');
		assert.notEqual(Automerge.getObjectId(doc.items[0], 'text'), null);
	});
});

describe('inserting items', () => {
	test('puts the trimmed text and done state at the index, kept within the list', () => {
		let doc = todos.addItem(todos.addItem(todos.create(), 'a'), 'c');
		doc = todos.insertItem(doc, 1, { text: ' b ', done: true });
		doc = todos.insertItem(doc, 99, { text: 'end' });
		doc = todos.insertItem(doc, -5, { text: 'start' });
		assert.deepEqual(
			todos.items(doc).map(({ text, done }) => [text, done]),
			[
				['start', false],
				['a', false],
				['b', true],
				['c', false],
				['end', false],
			]
		);
	});

	test('adds nothing for blank text', () => {
		const doc = todos.create();
		assert.equal(todos.insertItem(doc, 0, { text: '  ' }), doc);
	});
});

describe('marking items done', () => {
	test('setDone marks one item and counts follow', () => {
		let doc = todos.addItem(todos.addItem(todos.create(), 'a'), 'b');
		doc = todos.setDone(doc, todos.items(doc)[1].id, true);
		assert.deepEqual(todos.counts(doc), { total: 2, active: 1, completed: 1 });
		assert.equal(todos.items(doc)[1].done, true);
	});

	test('setAllDone marks every item, and back', () => {
		let doc = todos.addItem(todos.addItem(todos.create(), 'a'), 'b');
		doc = todos.setAllDone(doc, true);
		assert.deepEqual(todos.counts(doc), { total: 2, active: 0, completed: 2 });
		doc = todos.setAllDone(doc, false);
		assert.deepEqual(todos.counts(doc), { total: 2, active: 2, completed: 0 });
	});

	test('setAllDone makes no change when every item is already so', () => {
		const doc = todos.setAllDone(todos.addItem(todos.create(), 'a'), true);
		assert.equal(todos.setAllDone(doc, true), doc);
	});

	test('clearCompleted removes only the done items', () => {
		let doc = ['a', 'b', 'c'].reduce((d, text) => todos.addItem(d, text), todos.create());
		const [a, , c] = todos.items(doc);
		doc = todos.setDone(todos.setDone(doc, a.id, true), c.id, true);
		doc = todos.clearCompleted(doc);
		assert.deepEqual(texts(doc), ['b']);
	});
});

describe('editing and removing items', () => {
	test('editText replaces the text, trimmed', () => {
		let doc = todos.addItem(todos.create(), 'milk');
		doc = todos.editText(doc, todos.items(doc)[0].id, '  oat milk ');
		assert.deepEqual(texts(doc), ['oat milk']);
	});

	test('editText with blank text deletes the item', () => {
		let doc = todos.addItem(todos.addItem(todos.create(), 'a'), 'b');
		doc = todos.editText(doc, todos.items(doc)[0].id, '   ');
		assert.deepEqual(texts(doc), ['b']);
	});

	test('removeItem deletes the item with that id', () => {
		let doc = todos.addItem(todos.addItem(todos.create(), 'a'), 'b');
		doc = todos.removeItem(doc, todos.items(doc)[1].id);
		assert.deepEqual(texts(doc), ['a']);
	});

	test('an unknown id changes nothing', () => {
		const doc = todos.addItem(todos.create(), 'a');
		assert.equal(todos.removeItem(doc, '999@00'), doc);
		assert.equal(todos.setDone(doc, '999@00', true), doc);
	});

	test('two people editing one item at once both keep their edits', () => {
		const start = todos.addItem(todos.create(), 'buy milk');
		const id = todos.items(start)[0].id;
		let alice = Automerge.clone(start);
		let bob = Automerge.clone(start);
		const aliceBase = Automerge.getHeads(alice);
		const bobBase = Automerge.getHeads(bob);
		bob = todos.editText(bob, id, 'buy oat milk', bobBase);
		// Alice saw "buy milk" when she began; Bob's edit reaches her first.
		alice = Automerge.merge(alice, bob);
		alice = todos.editText(alice, id, 'buy milk today', aliceBase);
		const merged = Automerge.merge(alice, bob);
		assert.deepEqual(texts(merged), ['buy oat milk today']);
	});

	test('an edit finds its item after concurrent inserts and deletes move it', () => {
		let start = ['a', 'b', 'c'].reduce((d, text) => todos.addItem(d, text), todos.create());
		const [a, , c] = todos.items(start);
		let alice = Automerge.clone(start);
		let bob = Automerge.clone(start);
		bob = todos.removeItem(bob, a.id);
		alice = todos.editText(alice, c.id, 'C!', Automerge.getHeads(alice));
		assert.deepEqual(texts(Automerge.merge(alice, bob)), ['b', 'C!']);
	});

	test('item ids are the same on every replica', () => {
		const a = todos.addItem(todos.create(), 'a');
		const b = Automerge.merge(todos.create(), a);
		assert.deepEqual(todos.items(a), todos.items(b));
	});
});

describe('the title', () => {
	test('setTitle sets the trimmed title', () => {
		const doc = todos.setTitle(todos.create(), '  Groceries ');
		assert.equal(todos.title(doc), 'Groceries');
	});

	test('concurrent title edits from the same base both survive', () => {
		const start = todos.setTitle(todos.create(), 'Groceries');
		let alice = Automerge.clone(start);
		let bob = Automerge.clone(start);
		alice = todos.setTitle(alice, 'Weekly Groceries', Automerge.getHeads(alice));
		bob = todos.setTitle(bob, 'Groceries!', Automerge.getHeads(bob));
		assert.equal(todos.title(Automerge.merge(alice, bob)), 'Weekly Groceries!');
	});

	test('works on a tutorial document without a title', () => {
		let doc = Automerge.from({ items: [{ text: 'only item', done: false }] });
		assert.equal(todos.title(doc), '');
		doc = todos.setTitle(doc, 'Named');
		doc = todos.setTitle(doc, 'Renamed');
		assert.equal(todos.title(doc), 'Renamed');
		assert.deepEqual(texts(doc), ['only item']);
	});
});

describe('the summary (what the lists menu shows)', () => {
	test('a new list is not edited and has no change time', () => {
		assert.deepEqual(todos.summary(todos.create()), { edited: false, title: '', firstItem: '', changedAt: null });
	});

	test('gives the title, the first item and the time of the latest change', () => {
		const before = Math.floor(Date.now() / 1000) * 1000;
		let doc = todos.addItem(todos.create(), 'milk');
		doc = todos.addItem(doc, 'eggs');
		const summary = todos.summary(doc);
		assert.equal(summary.edited, true);
		assert.equal(summary.title, '');
		assert.equal(summary.firstItem, 'milk');
		assert.ok(summary.changedAt >= before && summary.changedAt <= Date.now(), summary.changedAt);
		assert.equal(todos.summary(todos.setTitle(doc, 'Groceries')).title, 'Groceries');
	});

	test('takes the newest head of concurrent changes, as stamped by their devices', () => {
		const base = todos.create();
		const early = Automerge.change(Automerge.clone(base), { time: 1_000 }, (d) => d.items.push({ text: 'early', done: false }));
		const late = Automerge.change(Automerge.clone(base), { time: 2_000 }, (d) => d.items.push({ text: 'late', done: false }));
		assert.equal(todos.summary(Automerge.merge(early, late)).changedAt, 2_000_000);
	});

	test('a list whose edits were all undone is still edited', () => {
		const doc = todos.setTitle(todos.setTitle(todos.create(), 'Once'), '');
		assert.equal(todos.summary(doc).edited, true);
		assert.equal(todos.summary(doc).title, '');
	});
});
