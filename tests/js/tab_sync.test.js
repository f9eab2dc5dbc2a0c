/** Tests of the sync protocol on the tab socket (static/todos/tab_sync.js, sync.js) against the fake server. */

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { MemoryStorage } from '../../static/todos/persistence.js';
import { isSyncMessage } from '../../static/todos/tab_sync.js';
import { Automerge as A, FakeServer, startDevice, todos, waitFor } from './helpers.js';

const DOC_ID = 'tab-sync-test-doc';
const TIMING = { debounce: 5, tabDelay: 60, retryMin: 10, retryMax: 40, ackTimeout: 500, resyncGrace: 20 };
const running = [];

async function device(server, options = {}) {
	const started = await startDevice(server, DOC_ID, { ...options, timing: TIMING });
	running.push(started.sync);
	return started;
}

const texts = ({ store }) => todos.items(store.doc).map((item) => item.text).sort();
const serverTexts = (server) => todos.items(server.doc()).map((item) => item.text).sort();
const state = ({ sync }) => sync.status().state;
const socketOf = (server) => [...server.sockets].at(-1);
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(() => {
	while (running.length) {
		running.pop().stop();
	}
});

/** A server holding a list of `count` items, and the storage of a device that holds it too. */
async function storedList(count) {
	const server = new FakeServer();
	const storage = new MemoryStorage();
	const a = await device(server, { storage });
	a.store.change((doc) => {
		for (let i = 0; i < count; i += 1) {
			doc = todos.addItem(doc, `item ${i}`);
		}
		return doc;
	});
	await waitFor(() => serverTexts(server).length === count && state(a) === 'saved', 5000, 'the list to be stored');
	await a.store.whenPersisted();
	a.sync.stop();
	return { server, storage };
}

describe('tab sync', () => {
	test('tells sync messages from Automerge chunks by their first byte', () => {
		assert.equal(isSyncMessage(new Uint8Array([0x42, 0])), true);
		assert.equal(isSyncMessage(new Uint8Array([0x43, 0])), true);
		assert.equal(isSyncMessage(new Uint8Array([0x85, 0x6f, 0x4a, 0x83])), false);
		assert.equal(isSyncMessage(new Uint8Array([])), false);
	});

	test('a fresh device receives the whole list by sync', async () => {
		const { server } = await storedList(20);
		const b = await device(server);
		await waitFor(() => texts(b).length === 20 && state(b) === 'saved', 3000, 'b to catch up');
		assert.deepEqual(texts(b), serverTexts(server));
		assert.ok(server.syncMessages > 0);
	});

	test('a returning device receives only the change it lacks and uploads nothing', async () => {
		const { server, storage } = await storedList(300);
		const other = await device(server);
		await waitFor(() => texts(other).length === 300);
		other.add('made meanwhile');
		await waitFor(() => serverTexts(server).includes('made meanwhile'));
		other.sync.stop();
		const uploads = server.uploads.length;

		const a = await device(server, { storage });
		await waitFor(() => texts(a).includes('made meanwhile') && state(a) === 'saved', 3000, 'a to catch up');
		await pause(30);

		const received = socketOf(server).receivedBytes;
		assert.ok(received < 2000, `received ${received} bytes; the stored list is ${server.counts().size}`);
		assert.equal(server.uploads.length, uploads);
		assert.deepEqual(texts(a), serverTexts(server));
	});

	test('changes made offline reach the server by sync when the socket opens', async () => {
		const { server, storage } = await storedList(3);
		server.stop();
		const a = await device(server, { storage });
		a.add('offline edit');
		await pause(30);
		server.start();
		a.sync.retry();
		await waitFor(() => serverTexts(server).includes('offline edit') && state(a) === 'saved', 3000, 'the offline edit to arrive');
		assert.deepEqual(texts(a), serverTexts(server));
	});

	test('a refused sync message falls back to an upload, whose refusal the person sees', async () => {
		const { server, storage } = await storedList(2);
		// The sync message, then the incremental upload, then the whole list.
		const refusal = { status: 422, body: { error: 'It would break the list.' } };
		server.refusals.push(refusal, refusal, refusal);
		server.stop();
		const c = await device(server, { storage });
		c.add('refused edit');
		await pause(20);
		server.start();
		c.sync.retry();
		await waitFor(() => state(c) === 'error', 3000, 'the refusal to show');
		assert.match(c.sync.status().message, /422/);
		assert.ok(!serverTexts(server).includes('refused edit'));
	});

	test('opening a list the server does not hold stores nothing', async () => {
		const server = new FakeServer();
		const a = await device(server);
		await waitFor(() => server.syncMessages > 0 && state(a) === 'saved', 2000, 'the exchange');
		await pause(30);
		assert.equal(server.stored(), null);
		assert.equal(server.uploads.length, 0);
	});

	test('a device that does not sync is still sent the whole list', async () => {
		const { server } = await storedList(5);
		const syncMessages = server.syncMessages;
		const b = await device(server, { syncProtocol: false });
		await waitFor(() => texts(b).length === 5 && state(b) === 'saved', 2000, 'b to load the list');
		assert.equal(server.syncMessages, syncMessages);
	});
});

describe('a server that does not answer sync messages', () => {
	test('uploads go ahead after the ack timeout', async () => {
		const server = new FakeServer();
		const sync = server.sync.bind(server);
		server.sync = (socket, bytes) => ({ ...sync(socket, bytes), reply: null }); // never replies
		const a = await device(server);
		a.add('still uploaded');
		await waitFor(() => serverTexts(server).includes('still uploaded') && state(a) === 'saved', 3000, 'the upload');
	});
});

/**
 * A server and a device's storage where the server's Bloom filter wrongly
 * claims the device's first offline change (at this time: found by search), so
 * the device's first changes build on one the server lacks.
 */
function bloomFalsePositive() {
	const add = (doc, text, time) => A.change(doc, { time }, (d) => void d.items.push({ text, done: false }));
	const as = (doc, actor) => A.clone(doc, { actor: actor.repeat(16) });
	const base = add(as(todos.create(), 'aa'), 'shared item', 1000);
	const server = new FakeServer();
	server.write(A.save(add(as(base, 'cc'), 'alice offline', 2000)));
	const storage = new MemoryStorage();
	storage.appendChunk(DOC_ID, A.save(add(add(as(base, 'bb'), 'bob offline', 3054), 'bob offline 2', 3054)));
	return { server, storage };
}

describe("a change the server's Bloom filter wrongly claims", () => {
	test('reaches the server by sync: the server holds what builds on it until it arrives', async () => {
		const { server, storage } = bloomFalsePositive();
		const a = await device(server, { storage });
		await waitFor(() => serverTexts(server).length === 4 && state(a) === 'saved', 3000, 'the offline edits to arrive');
		assert.ok(server.syncMessages < 10, `${server.syncMessages} sync messages`);
	});

	test('a server that drops them does not hold uploads back beyond the ack timeout', async () => {
		const { server, storage } = bloomFalsePositive();
		server.holdMissing = false; // the exchange goes round: each side asks for a change the other never sends
		const a = await device(server, { storage });
		await waitFor(() => serverTexts(server).includes('bob offline 2'), 3000, 'the upload after the ack timeout');
		assert.deepEqual(texts(a), serverTexts(server));
	});
});
