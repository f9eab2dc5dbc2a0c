/** Tests of the view-only and moved-list paths of static/todos/sync.js and connection.js, and of lists.js's moves. */

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { RecentLists, viewTokenFromPath } from '../../static/todos/lists.js';
import { itemHTML } from '../../static/todos/template.js';
import { FakeServer, startDevice, todos, waitFor } from './helpers.js';

const DOC_ID = 'sharing-test-doc';
const TOKEN = 'view-token-0123456789ab';
const TIMING = { debounce: 5, tabDelay: 60, retryMin: 10, retryMax: 40, ackTimeout: 500, resyncGrace: 20 };
const running = [];

async function device(server, options = {}) {
	const started = await startDevice(server, options.viewToken ? `view:${options.viewToken}` : DOC_ID, { ...options, timing: TIMING });
	running.push(started.sync);
	return started;
}

/** Send a JSON frame from the server to every open socket. */
function sendToAll(server, frame) {
	for (const socket of server.sockets) {
		socket.deliver(JSON.stringify(frame));
	}
}

const texts = ({ store }) => todos.items(store.doc).map((item) => item.text).sort();
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(() => {
	while (running.length) {
		running.pop().stop();
	}
});

describe('a read-only sync (a view-only link)', () => {
	test('connects by the token, receives pushes and never uploads', async () => {
		const server = new FakeServer();
		const editor = await device(server);
		const viewer = await device(server, { viewToken: TOKEN });
		editor.add('milk');
		await waitFor(() => texts(viewer).includes('milk'), 2000, 'the push to reach the viewer');
		const uploads = server.uploads.length;

		viewer.add('not sent');
		await pause(50);

		const { wsUrl, docUrl } = viewer.sync.connection;
		assert.deepEqual([wsUrl, docUrl], [`ws://test/ws/shared/${TOKEN}?sync=1`, `http://test/shared/${TOKEN}`]);
		assert.equal(server.uploads.length, uploads);
	});

	test('a revoked frame ends it and says why; nothing reconnects', async () => {
		const server = new FakeServer();
		const viewer = await device(server, { viewToken: TOKEN });
		await waitFor(() => server.sockets.size === 1);
		const ended = [];
		viewer.sync.onEnded((message) => ended.push(message));

		sendToAll(server, { type: 'revoked', status: 404, error: 'This view-only link was turned off.' });
		await pause(60);

		assert.deepEqual(ended.map((message) => message.type), ['revoked']);
		assert.deepEqual(viewer.sync.status().state, 'ended');
		assert.match(viewer.sync.status().message, /turned off/);
		assert.equal(server.sockets.size, 0);
	});

	test('a 404 over HTTP ends it too (the link was turned off while it was away)', async () => {
		const server = new FakeServer();
		const viewer = await device(server, { viewToken: TOKEN, webSocket: false });
		await waitFor(() => viewer.sync.status().state === 'ended', 2000, 'the 404 to end the sync');
		assert.match(viewer.sync.status().message, /No document/);
	});
});

describe('a list that moved to a new edit id', () => {
	test('a moved frame ends the sync with the new id and keeps unsynced edits', async () => {
		const server = new FakeServer();
		const editor = await device(server);
		await waitFor(() => server.sockets.size === 1);
		const ended = [];
		editor.sync.onEnded((message) => ended.push(message));
		server.latency = 1000; // the upload's answer is still on its way when the list moves
		editor.add('unsynced');
		await waitFor(() => server.uploads.length === 1);

		sendToAll(server, { type: 'moved', doc_id: 'the-new-id' });
		await pause(60);

		assert.deepEqual(ended, [{ type: 'moved', doc_id: 'the-new-id' }]);
		assert.deepEqual(texts(editor), ['unsynced']);
		assert.equal(editor.sync.status().state, 'ended');
		assert.equal(editor.sync.status().unsynced, true);
		assert.equal(server.sockets.size, 0);
	});

	test('an upload answered 410 ends the sync instead of retrying', async () => {
		const server = new FakeServer();
		const editor = await device(server);
		await waitFor(() => server.sockets.size === 1);
		server.refusals.push({ status: 410, body: { error: 'This edit link was replaced by its owner.' } });
		editor.add('too late');

		await waitFor(() => editor.sync.status().state === 'ended', 2000, 'the 410 to end the sync');
		const uploads = server.uploads.length;
		await pause(60);

		assert.equal(uploads, 1);
		assert.equal(server.uploads.length, uploads);
		assert.match(editor.sync.status().message, /replaced/);
		assert.equal(editor.sync.status().unsynced, true);
	});
});

describe('the lists menu and pages', () => {
	test('a moved list keeps its menu entry under the new id', () => {
		const values = new Map();
		const storage = { getItem: (key) => values.get(key) ?? null, setItem: (key, value) => values.set(key, value), removeItem: (key) => values.delete(key) };
		const recent = new RecentLists(storage, () => 1);
		recent.update('old-id', { edited: true, title: 'Groceries', firstItem: '', changedAt: 5 });
		recent.update('other', { edited: true, title: 'Other', firstItem: '', changedAt: 6 });

		const lists = recent.moved('old-id', 'new-id');

		assert.deepEqual(lists.map((list) => [list.id, list.title]), [['other', 'Other'], ['new-id', 'Groceries']]);
		assert.equal(recent.homeId(), 'other');
		assert.equal(values.get('todos.lastOpened'), undefined);
	});

	test('a view-only page names its token in its path, never an edit id', () => {
		assert.equal(viewTokenFromPath(`/view/${TOKEN}/`), TOKEN);
		assert.equal(viewTokenFromPath(`/lists/${TOKEN}/`), null);
		assert.equal(viewTokenFromPath('/view/bad token/'), null);
	});

	test('a read-only item has its text and state but no controls', () => {
		const html = itemHTML({ id: 'i1', text: '<b>milk</b>', done: true }, true);
		assert.match(html, /class="completed"/);
		assert.match(html, /&lt;b&gt;milk&lt;\/b&gt;/);
		assert.doesNotMatch(html, /<input|<button|tabindex/);
	});
});
