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
