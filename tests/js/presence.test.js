/**
 * Presence in the browser (static/todos/presence.js), and how connection.js
 * routes presence frames and sends this tab's: with a stand-in socket.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Connection } from '../../static/todos/connection.js';
import { Presence, presenceText } from '../../static/todos/presence.js';

/** Timers run by hand: `fire(name)` runs the timer `name` if set. */
class HandTimers {
	constructor() {
		this.waiting = new Map();
	}
	set(name, delay, callback) {
		this.waiting.set(name, { delay, callback });
	}
	has(name) {
		return this.waiting.has(name);
	}
	clear(name) {
		this.waiting.delete(name);
	}
	clearAll() {
		this.waiting.clear();
	}
	fire(name) {
		const { callback } = this.waiting.get(name);
		this.waiting.delete(name);
		callback();
	}
}

function presenceWithSocket(open = true) {
	const sent = [];
	const timers = new HandTimers();
	const presence = new Presence({ send: (frame) => open && sent.push(frame) > 0, timers });
	const seen = [];
	presence.onChange((state) => seen.push(state));
	return { presence, sent, timers, seen };
}

test('the presence line reads "1 other here", "2 others here", or nothing alone', () => {
	assert.equal(presenceText(0), '');
	assert.equal(presenceText(1), '1 other here');
	assert.equal(presenceText(2), '2 others here');
});

test('an open socket is told this tab is here, editing nothing', () => {
	const { presence, sent } = presenceWithSocket();

	presence.received({ type: 'open' });

	assert.deepEqual(sent, [{ type: 'presence', editing: null }]);
});

test("the server's frame gives the count and the items others edit", () => {
	const { presence, seen } = presenceWithSocket();

	presence.received({ type: 'presence', timeout: 30, others: [{ id: 'a', editing: null }, { id: 'b', editing: '3@x' }] });

	assert.equal(presence.count(), 2);
	assert.deepEqual([...seen.at(-1).editing], ['3@x']);
	assert.equal(seen.at(-1).count, 2);
});

test('malformed others are ignored, and the count drops to 0 when the socket closes', () => {
	const { presence, seen } = presenceWithSocket();

	presence.received({ type: 'presence', others: [null, { id: 7 }, { id: 'a', editing: 9 }] });
	assert.deepEqual(presence.others, [{ id: 'a', editing: null }]);
	presence.received({ type: 'closed' });

	assert.equal(seen.at(-1).count, 0);
});

test('starting and stopping an edit is announced once each', () => {
	const { presence, sent } = presenceWithSocket();

	presence.setEditing('2@x');
	presence.setEditing('2@x');
	presence.setEditing(null);

	assert.deepEqual(sent, [
		{ type: 'presence', editing: '2@x' },
		{ type: 'presence', editing: null },
	]);
});

test("heartbeats come a third of the server's timeout apart", () => {
	const { presence, sent, timers } = presenceWithSocket();

	presence.received({ type: 'presence', timeout: 6, others: [] });

	assert.equal(timers.waiting.get('heartbeat').delay, 2000);
	timers.fire('heartbeat');
	assert.deepEqual(sent, [{ type: 'presence', editing: null }]);
	assert.equal(timers.waiting.get('heartbeat').delay, 2000);
});

test('a 429 waits as long as the server asks before announcing again', () => {
	const { presence, timers } = presenceWithSocket();

	presence.received({ type: 'error', about: 'presence', status: 429, retry_after: 1.5 });

	assert.equal(timers.waiting.get('heartbeat').delay, 1500);
});

test('nothing is sent, and no heartbeat kept, while the socket is closed', () => {
	const { presence, timers } = presenceWithSocket(false);

	presence.setEditing('2@x');

	assert.equal(timers.has('heartbeat'), false);
});

/** A socket that opens at once and records what is sent. */
class StandInSocket {
	constructor() {
		this.sent = [];
		StandInSocket.last = this;
	}
	send(data) {
		this.sent.push(data);
	}
	close() {}
}

function connectionWithSocket() {
	const events = [];
	const hooks = {
		received() {},
		updated() {},
		reachable() {},
		changed() {},
		presence: (event) => events.push(event),
	};
	const connection = new Connection({ docUrl: 'http://test/docs/a', wsUrl: 'ws://test/ws/docs/a', WebSocket: StandInSocket, fetch: null, hooks, isOnline: () => true });
	connection.start();
	const socket = StandInSocket.last;
	socket.onopen();
	return { connection, socket, events };
}

test('the connection hands presence frames and presence errors to the presence hook', async () => {
	const { connection, socket, events } = connectionWithSocket();
	const upload = connection.upload(new Uint8Array([1]));

	socket.onmessage({ data: JSON.stringify({ type: 'presence', others: [], timeout: 30 }) });
	socket.onmessage({ data: JSON.stringify({ type: 'error', about: 'presence', status: 429, error: 'slow down' }) });
	socket.onmessage({ data: JSON.stringify({ type: 'ack', heads: [] }) });

	assert.deepEqual(
		events.map((event) => event.type),
		['open', 'presence', 'error']
	);
	assert.deepEqual(await upload, { type: 'ack', heads: [] }); // the presence error did not refuse it
	connection.stop();
	assert.equal(events.at(-1).type, 'closed');
});

test('sendJSON sends a text frame while the socket is open, and nothing after', () => {
	const { connection, socket } = connectionWithSocket();

	assert.equal(connection.sendJSON({ type: 'presence', editing: null }), true);
	connection.stop();
	assert.equal(connection.sendJSON({ type: 'presence', editing: null }), false);

	assert.deepEqual(socket.sent, ['{"type":"presence","editing":null}']);
});
