/** Tests of static/todos/items.js: items kept up to date from patches equal a full read. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ItemList } from '../../static/todos/items.js';
import { MemoryStorage } from '../../static/todos/persistence.js';
import { Store } from '../../static/todos/store.js';
import { Automerge, todos } from './helpers.js';

async function openStore(docId) {
	return new Store({ Automerge, docId, create: todos.create, storage: new MemoryStorage() }).open();
}

/** A store whose item list follows it, as the controller's does. */
async function following(docId) {
	const store = await openStore(docId);
	const itemList = new ItemList({ store, todos });
	store.subscribe(({ patches }) => itemList.updated(patches));
	return { store, itemList };
}

test('after merged bytes, the patched items equal a full read and unchanged items keep their objects', async () => {
	const { store, itemList } = await following('items-a');
	const other = await openStore('items-b');
	other.change((doc) => ['a', 'b', 'c', 'd'].reduce((d, text) => todos.addItem(d, text), doc));
	store.merge(other.save());
	const before = itemList.items();
	assert.deepEqual(before.map((item) => item.text), ['a', 'b', 'c', 'd']);

	const heads = other.heads();
	const [, second, , fourth] = todos.items(other.doc);
	other.change((doc) => todos.setDone(doc, second.id, true));
	other.change((doc) => todos.removeItem(doc, fourth.id));
	other.change((doc) => todos.insertItem(doc, 0, { text: 'first' }));
	other.change((doc) => todos.editText(doc, second.id, 'b, edited'));
	store.merge(other.saveSince(heads));

	const after = itemList.items();
	assert.deepEqual(after, todos.items(store.doc));
	assert.equal(after[1], before[0]); // 'a' did not change: the same object
	assert.equal(after[3], before[2]);
	assert.notEqual(after[2], before[1]);
});

test('after a local change (no patches) everything is read again', async () => {
	const { store, itemList } = await following('items-c');
	store.change((doc) => todos.addItem(doc, 'one'));
	itemList.items();
	store.change((doc) => todos.addItem(doc, 'two'));
	assert.deepEqual(itemList.items(), todos.items(store.doc));
});

test('patches after a sync message are applied too', async () => {
	const { store, itemList } = await following('items-d');
	const other = await openStore('items-e');
	other.change((doc) => todos.addItem(doc, 'x'));
	itemList.items();
	let ours = store.initSyncState();
	let theirs = other.initSyncState();
	for (let round = 0; round < 5; round += 1) {
		let message;
		[theirs, message] = other.generateSyncMessage(theirs);
		if (message) {
			ours = store.receiveSyncMessage(ours, message).state;
		}
		[ours, message] = store.generateSyncMessage(ours);
		if (message) {
			theirs = other.receiveSyncMessage(theirs, message).state;
		}
	}
	assert.deepEqual(itemList.items(), todos.items(store.doc));
	assert.deepEqual(itemList.items().map((item) => item.text), ['x']);
});

/** `changes.from` with the splices and touched items applied, as the view applies them. */
function replay({ from, splices, touched }, items) {
	const list = from.slice();
	for (const { index, remove, insert } of splices) {
		list.splice(index, remove, ...new Array(insert).fill(null));
	}
	for (const index of touched) {
		list[index] = items[index];
	}
	return list;
}

test('the changes of a patched update turn the previous items into the current ones, touching only those changed', async () => {
	const { store, itemList } = await following('items-f');
	const other = await openStore('items-g');
	other.change((doc) => ['a', 'b', 'c', 'd', 'e'].reduce((d, text) => todos.addItem(d, text), doc));
	store.merge(other.save());
	itemList.items();

	const heads = other.heads();
	const [a, b, , d] = todos.items(other.doc);
	other.change((doc) => todos.setDone(doc, d.id, true));
	other.change((doc) => todos.insertItem(doc, 1, { text: 'new 1' }));
	other.change((doc) => todos.removeItem(doc, a.id));
	other.change((doc) => todos.editText(doc, b.id, 'b, edited'));
	other.change((doc) => todos.addItem(doc, 'new 2'));
	store.merge(other.saveSince(heads));

	const items = itemList.items();
	const changes = itemList.changes();
	assert.deepEqual(items, todos.items(store.doc));
	assert.equal(replay(changes, items).every((item, index) => item === items[index]), true);
	assert.deepEqual(changes.touched.map((index) => items[index].text).sort(), ['b, edited', 'd', 'new 1', 'new 2']);
	assert.deepEqual(itemList.counts(), todos.counts(store.doc));
});

test('one pushed item is one insert and one touched item, and the counts follow', async () => {
	const { store, itemList } = await following('items-h');
	const other = await openStore('items-i');
	other.change((doc) => ['a', 'b', 'c'].reduce((d, text) => todos.addItem(d, text), doc));
	store.merge(other.save());
	const before = itemList.items();

	let heads = other.heads();
	other.change((doc) => todos.addItem(doc, 'd'));
	store.merge(other.saveSince(heads));
	assert.deepEqual(itemList.changes().splices, [{ index: 3, remove: 0, insert: 1 }]);
	assert.deepEqual(itemList.changes().touched, [3]);
	assert.equal(itemList.changes().from, before);

	heads = other.heads();
	const [first] = todos.items(other.doc);
	other.change((doc) => todos.setDone(doc, first.id, true));
	store.merge(other.saveSince(heads));
	assert.deepEqual(itemList.changes().splices, []);
	assert.deepEqual(itemList.changes().touched, [0]);
	assert.deepEqual(itemList.counts(), { total: 4, active: 3, completed: 1 });

	heads = other.heads();
	other.change((doc) => todos.removeItem(doc, first.id));
	store.merge(other.saveSince(heads));
	assert.deepEqual(itemList.changes().splices, [{ index: 0, remove: 1, insert: 0 }]);
	assert.deepEqual(itemList.counts(), { total: 3, active: 3, completed: 0 });
});

test('a local change (no patches) has no changes to apply', async () => {
	const { store, itemList } = await following('items-j');
	store.change((doc) => todos.addItem(doc, 'one'));
	itemList.items();
	store.change((doc) => todos.addItem(doc, 'two'));
	assert.equal(itemList.changes(), null);
	itemList.items();
	assert.equal(itemList.changes(), null);
	assert.deepEqual(itemList.counts(), { total: 2, active: 2, completed: 0 });
});

test('a large insert reads the whole list again instead of patching', async () => {
	const { store, itemList } = await following('items-k');
	const other = await openStore('items-l');
	itemList.items();
	other.change((doc) => Array.from({ length: 1500 }, (_, i) => `item ${i}`).reduce((d, text) => todos.addItem(d, text), doc));
	store.merge(other.save());
	assert.equal(itemList.changes(), null);
	assert.equal(itemList.items().length, 1500);
	assert.deepEqual(itemList.counts(), { total: 1500, active: 1500, completed: 0 });
});
