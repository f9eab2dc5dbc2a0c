/** Tests of static/todos/store.js and persistence.js's MemoryStorage: local copy and tabs. */

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { MemoryStorage } from '../../static/todos/persistence.js';
import { Store, channelName, concat } from '../../static/todos/store.js';
import { Automerge, todos, waitFor } from './helpers.js';

const DOC_ID = 'store-test-doc';
const opened = [];
let docCounter = 0;

/** A tab: a store on `storage` with its own BroadcastChannel for `docId`. */
async function openTab(storage, { docId = DOC_ID, channel = true, compactAfter } = {}) {
	const store = new Store({
		Automerge,
		docId,
		create: todos.create,
		storage,
		channel: channel ? new BroadcastChannel(channelName(docId)) : null,
		compactAfter,
	});
	opened.push(store);
	return store.open();
}

const texts = (store) => todos.items(store.doc).map((item) => item.text);
const freshId = () => `${DOC_ID}-${(docCounter += 1)}`;

afterEach(() => {
	while (opened.length) {
		opened.pop().close();
	}
});

describe('the local copy', () => {
	test('a list never opened before starts empty', async () => {
		const store = await openTab(new MemoryStorage(), { channel: false });
		assert.deepEqual(todos.items(store.doc), []);
		assert.deepEqual(store.heads(), todos.initialHeads());
	});

	test('changes are stored and a reopened tab finds them', async () => {
		const storage = new MemoryStorage();
		const first = await openTab(storage, { channel: false });
		first.change((doc) => todos.addItem(doc, 'milk'));
		first.change((doc) => todos.setTitle(doc, 'Groceries'));
		await first.whenPersisted();
		const again = await openTab(storage, { channel: false });
		assert.deepEqual(texts(again), ['milk']);
		assert.equal(todos.title(again.doc), 'Groceries');
	});

	test('each update appends only its new changes', async () => {
		const storage = new MemoryStorage();
		const store = await openTab(storage, { channel: false });
		store.change((doc) => todos.addItem(doc, 'a'));
		await store.whenPersisted();
		const firstSize = (await storage.loadChunks(DOC_ID))[0].length;
		store.change((doc) => todos.addItem(doc, 'b'));
		await store.whenPersisted();
		const chunks = await storage.loadChunks(DOC_ID);
		assert.equal(chunks.length, 2);
		assert.ok(chunks[1].length < store.save().length);
		assert.ok(firstSize < store.save().length);
	});

	test('a change that changes nothing stores nothing and tells nobody', async () => {
		const storage = new MemoryStorage();
		const store = await openTab(storage, { channel: false });
		let calls = 0;
		store.subscribe(() => (calls += 1));
		assert.equal(store.change((doc) => todos.addItem(doc, '   ')), false);
		await store.whenPersisted();
		assert.equal(calls, 0);
		assert.deepEqual(await storage.loadChunks(DOC_ID), []);
	});

	test('two tabs writing at once to one storage both keep their changes', async () => {
		const storage = new MemoryStorage();
		const a = await openTab(storage, { channel: false });
		const b = await openTab(storage, { channel: false });
		a.change((doc) => todos.addItem(doc, 'from a'));
		b.change((doc) => todos.addItem(doc, 'from b'));
		await Promise.all([a.whenPersisted(), b.whenPersisted()]);
		const reader = await openTab(storage, { channel: false });
		assert.deepEqual(texts(reader).sort(), ['from a', 'from b']);
	});

	test('compaction leaves one chunk holding everything', async () => {
		const storage = new MemoryStorage();
		const store = await openTab(storage, { channel: false, compactAfter: 5 });
		for (const text of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) {
			store.change((doc) => todos.addItem(doc, text));
		}
		await store.whenPersisted();
		const chunks = await storage.loadChunks(DOC_ID);
		assert.ok(chunks.length <= 3, `expected compaction, found ${chunks.length} chunks`);
		const reader = await openTab(storage, { channel: false });
		assert.deepEqual(texts(reader), ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
	});

	test('a damaged stored chunk is skipped and the rest loads', async () => {
		const storage = new MemoryStorage();
		const store = await openTab(storage, { channel: false });
		store.change((doc) => todos.addItem(doc, 'kept'));
		await store.whenPersisted();
		await storage.appendChunk(DOC_ID, new Uint8Array([0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 5]));
		const reader = await openTab(storage, { channel: false });
		assert.deepEqual(texts(reader), ['kept']);
	});

	test('metadata is kept beside the document', async () => {
		const storage = new MemoryStorage();
		const store = await openTab(storage, { channel: false });
		await store.setMeta({ serverHeads: ['abc'] });
		const reader = await openTab(storage, { channel: false });
		assert.deepEqual(reader.getMeta('serverHeads'), ['abc']);
	});
});

describe('merging bytes from elsewhere', () => {
	test('merge applies another replica\'s changes and returns their heads', async () => {
		const store = await openTab(new MemoryStorage(), { channel: false });
		const other = todos.addItem(todos.create(), 'remote');
		const added = store.merge(Automerge.save(other));
		assert.deepEqual(texts(store), ['remote']);
		assert.deepEqual(added, Automerge.getHeads(other));
	});

	test('merge of bytes already held changes nothing', async () => {
		const store = await openTab(new MemoryStorage(), { channel: false });
		store.change((doc) => todos.addItem(doc, 'a'));
		assert.deepEqual(store.merge(store.save()), []);
	});

	test('saveSince sends only what the given heads lack, ignoring unknown heads', async () => {
		const store = await openTab(new MemoryStorage(), { channel: false });
		store.change((doc) => todos.addItem(doc, 'a'));
		const heads = store.heads();
		store.change((doc) => todos.addItem(doc, 'b'));
		const since = store.saveSince([...heads, 'ff'.repeat(32)]);
		assert.ok(since.length < store.save().length);
		assert.equal(store.hasChangesSince(heads), true);
		assert.equal(store.hasChangesSince(store.heads()), false);
	});

	test('changes whose dependencies are missing wait for them', async () => {
		const store = await openTab(new MemoryStorage(), { channel: false });
		let other = todos.addItem(todos.create(), 'first');
		const firstBytes = Automerge.save(other);
		const heads = Automerge.getHeads(other);
		other = todos.addItem(other, 'second');
		store.merge(Automerge.saveSince(other, heads));
		assert.ok(store.missingDeps().length > 0);
		store.merge(firstBytes);
		assert.deepEqual(store.missingDeps(), []);
		assert.deepEqual(texts(store), ['first', 'second']);
	});

	test('headsOf reads the heads of a whole document and rejects a fragment', async () => {
		const store = await openTab(new MemoryStorage(), { channel: false });
		let doc = todos.addItem(todos.create(), 'a');
		const heads = Automerge.getHeads(doc);
		assert.deepEqual(store.headsOf(Automerge.save(doc)), heads);
		doc = todos.addItem(doc, 'b');
		assert.equal(store.headsOf(Automerge.saveSince(doc, heads)), null);
	});
});

describe('tabs of one browser', () => {
	test('converge over BroadcastChannel without a server', async () => {
		const docId = freshId();
		const a = await openTab(new MemoryStorage(), { docId });
		const b = await openTab(new MemoryStorage(), { docId });
		a.change((doc) => todos.addItem(doc, 'from a'));
		b.change((doc) => todos.addItem(doc, 'from b'));
		await waitFor(() => texts(a).length === 2 && texts(b).length === 2, 2000, 'both tabs to hold both items');
		assert.deepEqual(texts(a), texts(b));
	});

	test('a tab opened later catches up by saying hello', async () => {
		const docId = freshId();
		const a = await openTab(new MemoryStorage(), { docId });
		a.change((doc) => todos.addItem(doc, 'before b opened'));
		// b has its own storage, so only the channel can tell it.
		const b = await openTab(new MemoryStorage(), { docId });
		await waitFor(() => texts(b).length === 1, 2000, 'the late tab to catch up');
		assert.deepEqual(texts(b), ['before b opened']);
	});

	test('a tab that missed a message asks for what it lacks', async () => {
		const docId = freshId();
		const a = await openTab(new MemoryStorage(), { docId });
		const b = await openTab(new MemoryStorage(), { docId });
		await new Promise((resolve) => setTimeout(resolve, 20));
		const channel = a.channel;
		a.channel = null; // a's first change is not broadcast
		a.change((doc) => todos.addItem(doc, 'missed'));
		a.channel = channel;
		a.change((doc) => todos.addItem(doc, 'seen'));
		await waitFor(() => texts(b).length === 2, 2000, 'the tab to recover the missed change');
		assert.deepEqual(texts(b), ['missed', 'seen']);
	});

	test('subscribers hear where an update came from', async () => {
		const docId = freshId();
		const a = await openTab(new MemoryStorage(), { docId });
		const b = await openTab(new MemoryStorage(), { docId });
		const origins = [];
		b.subscribe(({ origin }) => origins.push(origin));
		a.change((doc) => todos.addItem(doc, 'x'));
		b.change((doc) => todos.addItem(doc, 'y'));
		await waitFor(() => origins.includes('tab'), 2000, 'an update from the other tab');
		assert.ok(origins.includes('local'));
	});
});

test('concat joins byte arrays', () => {
	assert.deepEqual(concat([new Uint8Array([1, 2]), new Uint8Array([]), new Uint8Array([3])]), new Uint8Array([1, 2, 3]));
});
