/** Tests of static/todos/sync.js against a fake server that keeps the storage API's contract. */

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { MemoryStorage } from '../../static/todos/persistence.js';
import { Automerge, FakeServer, isSave, todos, waitFor, startDevice } from './helpers.js';

const DOC_ID = 'sync-test-doc';
const TIMING = { debounce: 5, tabDelay: 60, retryMin: 10, retryMax: 40, ackTimeout: 500, resyncGrace: 20 };
const running = [];
const channels = [];

/** A BroadcastChannel for the tabs of one test. */
function tabChannel(name) {
	const channel = new BroadcastChannel(name);
	channels.push(channel);
	return channel;
}

/** A device: its own storage, store and Sync against `server`. */
async function device(server, options = {}) {
	const started = await startDevice(server, DOC_ID, { ...options, timing: TIMING });
	running.push(started.sync);
	return started;
}

const texts = ({ store }) => todos.items(store.doc).map((item) => item.text).sort();
const serverTexts = (server) => todos.items(server.doc()).map((item) => item.text).sort();
const state = ({ sync }) => sync.status().state;

afterEach(() => {
	while (running.length) {
		running.pop().stop();
	}
	while (channels.length) {
		channels.pop().close();
	}
});

describe('over the WebSocket', () => {
	test('a local change is uploaded and pushed to another device', async () => {
		const server = new FakeServer();
		const a = await device(server);
		const b = await device(server);
		a.add('milk');
		await waitFor(() => texts(b).includes('milk'), 2000, 'the push to reach b');
		assert.deepEqual(serverTexts(server), ['milk']);
		await waitFor(() => state(a) === 'saved', 2000, 'a to be saved');
	});

	test('a device opening a stored list receives it and uploads nothing', async () => {
		const server = new FakeServer();
		const a = await device(server);
		a.add('stored');
		await waitFor(() => serverTexts(server).length === 1);
		const uploads = server.uploads.length;
		const b = await device(server);
		await waitFor(() => texts(b).length === 1 && state(b) === 'saved', 2000, 'b to load the list');
		await new Promise((resolve) => setTimeout(resolve, 30));
		assert.equal(server.uploads.length, uploads);
	});

	test('after the first upload only the changes the server lacks are sent', async () => {
		const server = new FakeServer();
		const a = await device(server);
		for (const text of ['one', 'two', 'three']) {
			a.add(text);
		}
		await waitFor(() => state(a) === 'saved');
		a.add('four');
		await waitFor(() => serverTexts(server).length === 4 && state(a) === 'saved');
		const last = server.uploads.at(-1);
		assert.ok(last.length < a.store.save().length / 2, `sent ${last.length} bytes`);
		assert.equal(Automerge.decodeChange(last).ops.length > 0, true);
	});

	test('edits made while the server is down are kept and uploaded when it returns', async () => {
		const server = new FakeServer();
		const a = await device(server);
		const b = await device(server);
		a.add('before');
		await waitFor(() => texts(b).length === 1);
		server.stop();
		a.add('offline a');
		b.add('offline b');
		await waitFor(() => state(a) === 'offline' && a.sync.status().unsynced, 2000, 'a to say offline with unsynced changes');
		server.start();
		await waitFor(() => texts(a).length === 3 && texts(b).length === 3, 3000, 'both devices to converge');
		assert.deepEqual(texts(a), ['before', 'offline a', 'offline b']);
		assert.deepEqual(serverTexts(server), texts(a));
		await waitFor(() => state(a) === 'saved' && !a.sync.status().unsynced);
	});

	test('what the server holds is remembered across a reload', async () => {
		const server = new FakeServer();
		const storage = new MemoryStorage();
		const first = await device(server, { storage });
		first.add('a');
		await waitFor(() => state(first) === 'saved');
		await first.store.whenPersisted();
		first.sync.stop();
		const uploads = server.uploads.length;
		const second = await device(server, { storage });
		second.add('b');
		await waitFor(() => serverTexts(server).length === 2 && state(second) === 'saved');
		assert.equal(server.uploads.length, uploads + 1);
		assert.ok(server.uploads.at(-1).length < second.store.save().length);
	});

	test('a server that lost the history gets the whole document (409)', async () => {
		const server = new FakeServer();
		const a = await device(server);
		a.add('one');
		await waitFor(() => state(a) === 'saved');
		server.chunks = []; // e.g. restored from an old backup
		a.add('two');
		await waitFor(() => serverTexts(server).length === 2, 2000, 'the full document upload');
		assert.deepEqual(serverTexts(server), ['one', 'two']);
	});

	test('over a limit (429) the same upload waits as long as the server asks', async () => {
		const server = new FakeServer();
		const a = await device(server);
		a.add('one');
		await waitFor(() => state(a) === 'saved');
		const before = server.uploads.length;
		server.refusals.push({ status: 429, body: { error: 'Too many writes', retry_after: 0.2 } });
		const refusedAt = Date.now();
		a.add('two');
		await waitFor(() => state(a) === 'error', 2000, 'the refusal to show');
		assert.match(a.sync.status().message, /wait: Too many writes/);
		a.add('three'); // an edit meanwhile does not upload before the wait is over
		await waitFor(() => serverTexts(server).length === 3, 2000, 'the upload after the wait');
		assert.ok(Date.now() - refusedAt >= 200);
		const uploads = server.uploads.slice(before);
		assert.equal(uploads.length, 2); // the refused one, then one after the wait
		assert.ok(uploads.every((bytes) => !isSave(bytes))); // no full save in between
		await waitFor(() => state(a) === 'saved', 2000, 'a to be saved');
	});

	test('a missed push is noticed from the acknowledgement and fetched', async () => {
		const server = new FakeServer();
		const a = await device(server);
		const b = await device(server);
		a.add('first');
		await waitFor(() => texts(b).length === 1);
		server.dropPushes = true;
		a.add('dropped push');
		await waitFor(() => serverTexts(server).length === 2);
		server.dropPushes = false;
		b.add('from b'); // b's ack names a head b lacks
		await waitFor(() => texts(b).length === 3, 2000, 'b to resync');
		assert.deepEqual(texts(b), ['dropped push', 'first', 'from b']);
	});

	test('a device that only listens notices a missed push from the next update', async () => {
		const server = new FakeServer();
		const a = await device(server);
		const b = await device(server);
		const listener = await device(server);
		a.add('first');
		await waitFor(() => texts(listener).length === 1 && texts(b).length === 1);
		server.dropPushes = true;
		a.add('dropped push');
		await waitFor(() => serverTexts(server).length === 2);
		server.dropPushes = false;
		b.add('from b'); // concurrent with the dropped change: needs nothing of it
		await waitFor(() => texts(listener).length === 3, 2000, 'the listener to resync');
		assert.deepEqual(texts(listener), ['dropped push', 'first', 'from b']);
	});

	test('a change made in one tab is uploaded by that tab only', async () => {
		const server = new FakeServer();
		const storage = new MemoryStorage();
		const one = await device(server, { storage, channel: tabChannel('sync-tabs') });
		const two = await device(server, { storage, channel: tabChannel('sync-tabs') });
		await waitFor(() => state(one) === 'saved' && state(two) === 'saved');
		const uploads = server.uploads.length;
		one.add('once');
		await waitFor(() => texts(two).length === 1 && state(one) === 'saved' && state(two) === 'saved');
		await new Promise((resolve) => setTimeout(resolve, TIMING.tabDelay * 2));
		assert.equal(server.uploads.length, uploads + 1);
	});

	test('a tab uploads changes from another tab that could not', async () => {
		const server = new FakeServer();
		const storage = new MemoryStorage();
		const one = await device(server, { storage, channel: tabChannel('sync-tabs-2') });
		const two = await device(server, { storage, channel: tabChannel('sync-tabs-2') });
		await waitFor(() => state(one) === 'saved' && state(two) === 'saved');
		one.sync.stop(); // e.g. its socket is stuck
		one.add('relayed');
		await waitFor(() => serverTexts(server).includes('relayed'), 2000, 'the other tab to upload it');
	});
});

describe('the server compacts its own copy', () => {
	test('a device never uploads a save() to compact it, however bloated it is', async () => {
		// Far more chunks, and far more bytes, than one save(): what the app once
		// answered with a compacting save().
		const server = new FakeServer();
		let doc = todos.create();
		server.chunks = [Automerge.save(doc)];
		for (let i = 0; i < 60; i += 1) {
			const heads = Automerge.getHeads(doc);
			doc = todos.addItem(doc, `stored item ${i}`);
			server.chunks.push(Automerge.saveSince(doc, heads));
		}
		const a = await device(server);
		await waitFor(() => texts(a).length === 60 && state(a) === 'saved', 2000, 'a to load the list');
		for (let i = 0; i < 5; i += 1) {
			a.add(`edit ${i}`);
			await waitFor(() => serverTexts(server).length === 61 + i && state(a) === 'saved', 2000, 'the edit');
		}
		await new Promise((resolve) => setTimeout(resolve, 100));
		assert.equal(server.uploads.length, 5);
		assert.ok(server.uploads.every((bytes) => !isSave(bytes)), 'a save() was uploaded');
		assert.equal(server.chunks.length, 66);
	});

	test('devices keep in step while the server compacts under them', async () => {
		const server = new FakeServer();
		server.chunks = [Automerge.save(todos.create())]; // stored: no device starts with save()
		server.compactAfter = 4;
		const a = await device(server);
		const b = await device(server);
		await waitFor(() => a.sync.serverHas && b.sync.serverHas, 2000, 'both to load the list');
		for (let i = 0; i < 12; i += 1) {
			a.add(`a ${i}`);
			await waitFor(() => texts(b).length === i + 1 && state(a) === 'saved', 2000, 'the push to reach b');
		}
		assert.ok(server.chunks.length <= 5, `the server holds ${server.chunks.length} chunks`);
		b.add('from b');
		await waitFor(() => texts(a).length === 13 && state(b) === 'saved', 2000, "b's edit to reach a");
		assert.deepEqual(texts(a), serverTexts(server));
		assert.deepEqual(texts(b), serverTexts(server));
		assert.ok(server.uploads.every((bytes) => !isSave(bytes)), 'a save() was uploaded');
	});

	test("a listener that lacks a head named by the server's compaction fetches the list", async () => {
		const server = new FakeServer();
		const a = await device(server);
		const listener = await device(server);
		a.add('first');
		await waitFor(() => texts(listener).length === 1);
		server.dropPushes = true;
		a.add('dropped push');
		await waitFor(() => serverTexts(server).length === 2 && state(a) === 'saved');
		server.dropPushes = false;
		server.compact(); // the update frame alone, with heads the listener lacks
		await waitFor(() => texts(listener).length === 2, 2000, 'the listener to resync');
		assert.deepEqual(texts(listener), ['dropped push', 'first']);
		assert.equal(server.chunks.length, 1);
	});
});

describe('over HTTP', () => {
	test('without WebSockets, changes go by POST and come by GET', async () => {
		const server = new FakeServer();
		const a = await device(server, { webSocket: false });
		const b = await device(server, { webSocket: false });
		a.add('by http');
		await waitFor(() => serverTexts(server).length === 1, 2000, 'the POST');
		await waitFor(() => texts(b).length === 1, 2000, 'b to poll it');
		assert.equal(state(a), 'saved');
	});

	test('a refused upload is reported, not retried forever', async () => {
		const server = new FakeServer();
		server.write = () => ({ status: 413, body: { error: 'The upload is too large.' } });
		const a = await device(server);
		a.add('too big');
		await waitFor(() => state(a) === 'error', 2000, 'the error status');
		assert.match(a.sync.status().message, /too large/);
	});
});

describe('the status on every push', () => {
	test('costs no walk of the history, and says the same as one', async () => {
		const server = new FakeServer();
		const writer = await device(server);
		const listener = await device(server);
		const calls = spy(listener.store, ['hasChangesSince', 'hasHeads', 'knownHeads']);
		for (let i = 0; i < 10; i += 1) {
			writer.add(`pushed ${i}`);
			await waitFor(() => texts(listener).length === i + 1, 2000, 'the push');
			assert.deepEqual(listener.sync.status(), { state: 'saved', unsynced: false, message: '' });
		}
		assert.deepEqual(calls, { hasChangesSince: 0, hasHeads: 0, knownHeads: 0 });
	});

	test('unsynced agrees with the store about what the server lacks', async () => {
		const server = new FakeServer();
		const a = await device(server);
		const b = await device(server);
		const agree = () => {
			const { serverHas, initialHeads } = a.sync;
			assert.equal(a.sync.status().unsynced, a.store.hasChangesSince(serverHas || initialHeads));
		};
		agree();
		server.stop();
		a.add('offline');
		agree();
		assert.equal(a.sync.status().unsynced, true);
		server.start();
		b.add('from b');
		await waitFor(() => texts(a).length === 2 && texts(b).length === 2, 5000, 'both to converge');
		agree();
		await waitFor(() => !a.sync.status().unsynced, 5000, 'a to be saved');
		agree();
	});
});

/** Count calls of `methods` on `object`. */
function spy(object, methods) {
	const calls = {};
	for (const name of methods) {
		const original = object[name].bind(object);
		calls[name] = 0;
		object[name] = (...args) => {
			calls[name] += 1;
			return original(...args);
		};
	}
	return calls;
}

describe('a list nobody edits', () => {
	test('a list opened and never edited is never uploaded', async () => {
		const server = new FakeServer();
		const a = await device(server);
		await waitFor(() => state(a) === 'saved', 2000, 'a to connect');
		await new Promise((resolve) => setTimeout(resolve, 50));
		assert.equal(server.uploads.length, 0);
		assert.equal(server.stored(), null);
		a.add('now it is');
		await waitFor(() => serverTexts(server).length === 1, 2000, 'the first edit to be uploaded');
	});
});

describe('a browser without a network', () => {
	/** `server`'s WebSocket and fetch, counting every attempt in `tries`. */
	function counted(server, tries) {
		const Socket = server.WebSocket;
		const fetch = server.fetch;
		return {
			WebSocket: class extends Socket {
				constructor(url) {
					tries.push(`ws ${url}`);
					super(url);
				}
			},
			fetch: (url, options = {}) => {
				tries.push(`${options.method || 'GET'} ${url}`);
				return fetch(url, options);
			},
		};
	}

	test('while the browser is offline nothing is tried; retry() when it is back uploads', async () => {
		const server = new FakeServer();
		const tries = [];
		let online = false;
		const { store, sync } = await device(counted(server, tries), { isOnline: () => online });
		store.change((doc) => todos.addItem(doc, 'made offline'));
		await waitFor(() => state({ sync }) === 'offline' && sync.status().unsynced, 2000, 'the offline status');
		await new Promise((resolve) => setTimeout(resolve, 100)); // several retry periods
		assert.deepEqual(tries, []);
		online = true;
		sync.retry();
		await waitFor(() => serverTexts(server).length === 1 && state({ sync }) === 'saved', 2000, 'the upload');
		assert.ok(tries.length > 0);
	});

	test('a socket that outlived the network says saved again on retry()', async () => {
		const server = new FakeServer();
		const a = await device(server);
		await waitFor(() => state(a) === 'saved');
		a.sync.wentOffline();
		assert.equal(state(a), 'offline');
		a.sync.retry();
		assert.equal(state(a), 'saved');
	});
});
