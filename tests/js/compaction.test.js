/**
 * Compaction of the server's copy by many clients at once (static/todos/sync.js),
 * and the cost of the status on every push, against the fake server (helpers.js).
 */

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { COMPACT_MAX_CHUNKS } from '../../static/todos/sync.js';
import { Automerge, FakeServer, isSave, todos, waitFor, startDevice } from './helpers.js';

const DOC_ID = 'compaction-test-doc';
// A compaction slot is long beside one round trip, even on a busy machine.
const TIMING = { debounce: 5, tabDelay: 60, retryMin: 10, retryMax: 40, ackTimeout: 5000, resyncGrace: 20, compactSlot: 500 };
const NEVER = 1e6; // ms per slot: not within a test
const running = [];

async function device(server, { timing = {}, locks = undefined } = {}) {
	const started = await startDevice(server, DOC_ID, { locks, timing: { ...TIMING, ...timing } });
	running.push(started.sync);
	return started;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const texts = (doc) => todos.items(doc).map((item) => item.text).sort();
const settled = (devices) => devices.every(({ sync }) => sync.status().state === 'saved' && !sync.busy);
const fullSaves = (server, from = 0) => server.uploads.slice(from).filter(isSave).length;

/**
 * A server holding a save and `count` more items, one chunk each. With `padded`,
 * the save holds a long item, so that only the chunk count asks for compaction
 * (the stored bytes are not much more than a save).
 */
function bloatedServer(count, { padded = false } = {}) {
	const server = new FakeServer();
	let doc = todos.create();
	if (padded) {
		let text = '';
		for (let i = 0; text.length < 16000; i += 1) {
			text += ((i * 2654435761) % 4294967296).toString(36);
		}
		doc = todos.addItem(doc, text);
	}
	server.chunks = [Automerge.save(doc)];
	for (let i = 0; i < count; i += 1) {
		const heads = Automerge.getHeads(doc);
		doc = todos.addItem(doc, `stored ${i}`);
		server.chunks.push(Automerge.saveSince(doc, heads));
	}
	return server;
}

/** Connect `n` devices and wait until each holds the stored list. */
async function devices(server, n, options) {
	const all = [];
	for (let i = 0; i < n; i += 1) {
		all.push(await device(server, options));
	}
	const items = texts(server.doc()).length;
	await waitFor(() => all.every((d) => texts(d.store.doc).length === items) && settled(all), 5000, 'every device to load the list');
	return all;
}

afterEach(() => {
	while (running.length) {
		running.pop().stop();
	}
});

describe('compaction by many clients', () => {
	test('clients that all see too many chunks compact the server once, and it shrinks', async () => {
		const server = bloatedServer(COMPACT_MAX_CHUNKS, { padded: true });
		const clients = await devices(server, 12);
		const items = texts(server.doc()).length + clients.length;
		// Every client writes, and its ack reports more chunks than the limit.
		clients.forEach((client, i) => client.add(`edit ${i}`));
		await waitFor(() => clients.every(({ sync }) => sync.server.chunks > COMPACT_MAX_CHUNKS), 5000, 'every ack');
		await waitFor(() => settled(clients) && clients.every(({ sync }) => !sync.timers.has('compact')), 10000, 'the compaction');

		const saves = fullSaves(server);
		assert.ok(saves >= 1 && saves <= 3, `${saves} full saves for ${clients.length} clients`);
		assert.ok(server.chunks.length <= 3, `the server still holds ${server.chunks.length} chunks`);
		assert.equal(texts(server.doc()).length, items);
		for (const client of clients) {
			assert.deepEqual(texts(client.store.doc), texts(server.doc()));
		}
	});

	test('clients that load a bloated copy compact it once', async () => {
		const server = bloatedServer(60); // far more bytes than one save()
		const clients = await devices(server, 10);
		await waitFor(() => server.chunks.length === 1 && settled(clients) && clients.every(({ sync }) => !sync.timers.has('compact')), 10000, 'the compaction');
		const saves = fullSaves(server);
		assert.ok(saves >= 1 && saves <= 3, `${saves} full saves for ${clients.length} clients`);
		assert.equal(texts(server.doc()).length, 60);
	});

	test('a client with unacknowledged edits uploads them first, and the save adds nothing', async () => {
		const server = bloatedServer(COMPACT_MAX_CHUNKS, { padded: true });
		server.latency = 40; // answers are slow: edits pile up while one is in flight
		const [a] = await devices(server, 1, { timing: { compactSlot: 0 } });
		const stored = texts(server.doc());
		const results = [];
		const write = server.write.bind(server);
		server.write = (bytes) => {
			const result = write(bytes);
			results.push({ save: isSave(bytes), newChanges: result.body.new_changes });
			return result;
		};
		// The first edit's ack asks for a compaction; more edits come meanwhile,
		// including while the compacting save is in flight.
		for (let i = 0; i < 12; i += 1) {
			a.add(`edit ${i}`);
			await sleep(15);
		}
		await waitFor(() => results.some((r) => r.save), 5000, 'the compacting save');
		a.add('made during the compaction');
		await waitFor(() => settled([a]) && !a.sync.unsent(), 5000, 'every edit acknowledged');

		const saves = results.filter((r) => r.save);
		assert.equal(saves.length, 1);
		assert.ok(saves.every((r) => r.newChanges === 0), 'a compacting save carried a new change');
		const expected = [...stored, ...Array.from({ length: 12 }, (_, i) => `edit ${i}`), 'made during the compaction'].sort();
		assert.deepEqual(texts(server.doc()), expected);
		assert.deepEqual(texts(a.store.doc), expected);
		assert.ok(server.chunks.length <= 2, `the server holds ${server.chunks.length} chunks`);
	});

	test('a client behind the server waits for the push before it compacts', async () => {
		const server = bloatedServer(COMPACT_MAX_CHUNKS, { padded: true });
		const [a] = await devices(server, 1, { timing: { compactSlot: NEVER } });
		const [b] = await devices(server, 1, { timing: { compactSlot: 0 } });
		server.dropPushes = true; // b never hears of a's edit by push
		a.add('b lacks this');
		await waitFor(() => texts(server.doc()).includes('b lacks this') && settled([a]), 5000, "a's edit");
		server.dropPushes = false;
		b.add('from b'); // its ack asks for a compaction, and names a head b lacks
		await waitFor(() => server.chunks.length === 1, 5000, 'the compaction');
		assert.equal(fullSaves(server), 1);
		assert.ok(texts(b.store.doc).includes('b lacks this'));
		await waitFor(() => settled([a, b]), 5000, 'both saved');
		assert.deepEqual(texts(a.store.doc), texts(server.doc()));
		assert.deepEqual(texts(b.store.doc), texts(server.doc()));
	});

	test('tabs of one browser compact one at a time (Web Locks)', async () => {
		const locks = fakeLocks();
		const server = bloatedServer(COMPACT_MAX_CHUNKS, { padded: true });
		server.latency = 30;
		const tabs = await devices(server, 3, { locks, timing: { compactSlot: 0 } });
		tabs.forEach((tab, i) => tab.add(`tab ${i}`)); // every ack asks for a compaction at once
		await waitFor(() => fullSaves(server) > 0 && settled(tabs) && tabs.every(({ sync }) => !sync.timers.has('compact')), 5000, 'the compaction');
		await sleep(50);
		assert.equal(fullSaves(server), 1);
		assert.ok(server.chunks.length <= tabs.length, `the server holds ${server.chunks.length} chunks`);
		assert.ok(locks.refused >= 1, 'no tab found the lock taken');
	});

	test('without Web Locks, or when they fail, compaction still happens', async () => {
		const broken = { request: async () => Promise.reject(new Error('SecurityError')) };
		const server = bloatedServer(60);
		const [a] = await devices(server, 1, { locks: broken, timing: { compactSlot: 0 } });
		await waitFor(() => server.chunks.length === 1 && settled([a]), 5000, 'the compaction');
	});
});

/** `navigator.locks` for `request(name, {ifAvailable: true}, callback)`, one browser. */
function fakeLocks() {
	const held = new Set();
	return {
		refused: 0,
		async request(name, options, callback) {
			if (held.has(name)) {
				this.refused += 1;
				return callback(null);
			}
			held.add(name);
			try {
				return await callback({ name });
			} finally {
				held.delete(name);
			}
		},
	};
}
