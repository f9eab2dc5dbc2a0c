/**
 * Shared pieces of the Node tests: Automerge, a fake server that keeps the
 * storage API's contract (chunks merged by containment, 409 for missing
 * dependencies, acks with heads, pushes to other sockets, compaction of its own
 * copy announced by an update frame, and the sync protocol on sockets opened
 * with `?sync=1`), and a wait-for-condition helper.
 */

import * as Automerge from '@automerge/automerge';
import { todoDocument } from '../../static/todos/doc.js';
import { MemoryStorage } from '../../static/todos/persistence.js';
import { concat, Store } from '../../static/todos/store.js';
import { Sync } from '../../static/todos/sync.js';
import { isSyncMessage } from '../../static/todos/tab_sync.js';

export { Automerge };
export const todos = todoDocument(Automerge);

/**
 * A started device on document `docId`: its own storage, store and Sync against
 * `server` (over its WebSocket unless `webSocket` is false); read-only by
 * `viewToken` if one is given.
 */
export async function startDevice(server, docId, { storage = new MemoryStorage(), channel = null, webSocket = true, timing, isOnline, viewToken, syncProtocol }) {
	const store = await new Store({ Automerge, docId, create: todos.create, storage, channel }).open();
	const sync = new Sync({
		store,
		docId,
		initialHeads: todos.initialHeads(),
		httpBase: 'http://test/',
		wsBase: 'ws://test/',
		WebSocket: webSocket ? server.WebSocket : undefined,
		fetch: server.fetch,
		timing,
		isOnline,
		viewToken,
		syncProtocol,
	});
	sync.start();
	return { store, sync, storage, add: (text) => store.change((doc) => todos.addItem(doc, text)) };
}

/** An in-memory stand-in for `localStorage` (getItem, setItem, removeItem). */
export class FakeLocalStorage {
	constructor() {
		this.values = new Map();
	}
	getItem(key) {
		return this.values.has(key) ? this.values.get(key) : null;
	}
	setItem(key, value) {
		this.values.set(key, String(value));
	}
	removeItem(key) {
		this.values.delete(key);
	}
}

/** Resolve when `condition()` is true; reject after `timeout` ms. */
export async function waitFor(condition, timeout = 2000, what = 'condition') {
	const deadline = Date.now() + timeout;
	while (!(await condition())) {
		if (Date.now() > deadline) {
			throw new Error(`Timed out waiting for ${what}`);
		}
		await new Promise((resolve) => setTimeout(resolve, 5));
	}
}

/** True if Automerge bytes start with a document chunk (a `save()`). */
export function isSave(bytes) {
	return bytes.length > 8 && bytes[8] === 0;
}

/** Split Automerge bytes into their chunks (magic, checksum, type, LEB128 length, body). */
export function splitChunks(bytes) {
	const chunks = [];
	let at = 0;
	while (at < bytes.length) {
		let end = at + 9;
		let length = 0;
		let shift = 0;
		let byte;
		do {
			byte = bytes[end++];
			length += (byte & 0x7f) * 2 ** shift;
			shift += 7;
		} while (byte & 0x80);
		end += length;
		chunks.push(bytes.subarray(at, end));
		at = end;
	}
	return chunks;
}

const chunkHashes = new WeakMap();

/** The hashes of the changes in stored chunk(s) `bytes`. */
function hashesOf(bytes) {
	if (!chunkHashes.has(bytes)) {
		const hashes = new Set();
		for (const chunk of splitChunks(bytes)) {
			if (isSave(chunk)) {
				const doc = Automerge.load(chunk);
				Automerge.getChangesMetaSince(doc, []).forEach((change) => hashes.add(change.hash));
				Automerge.free(doc);
			} else {
				hashes.add(Automerge.decodeChange(chunk).hash);
			}
		}
		chunkHashes.set(bytes, hashes);
	}
	return chunkHashes.get(bytes);
}

const within = (small, big) => [...small].every((hash) => big.has(hash));

/** The storage API in memory, with the server's rules, reachable or not. */
export class FakeServer {
	constructor() {
		this.chunks = [];
		this.sockets = new Set();
		this.up = true;
		this.dropPushes = false;
		this.compactAfter = Infinity; // stored chunks past which a write compacts them
		this.uploads = [];
		this.refusals = []; // answers given, in turn, instead of merging an upload
		this.latency = 1; // ms before an answer or a push arrives
		this.cached = { chunks: null, doc: null };
		this.syncMessages = 0; // sync messages received
		this.readOnly = false; // refuse changes in sync messages with 403, as for a view-only link
		this.holdMissing = true; // false: drop sync changes whose dependencies are missing (as servers before did)
	}

	/**
	 * Answer sync message `bytes` from `socket`, as todos/tab_sync.py does: its
	 * changes go through `write` (a refusal is an error frame marked sync;
	 * changes whose dependencies are missing are held for the socket and
	 * written again with its next message, unless `holdMissing` is false), then
	 * the socket's sync state takes the message and the reply is generated from
	 * what is stored. Returns `{reply, error, result}`.
	 */
	sync(socket, bytes) {
		this.syncMessages += 1;
		let message;
		try {
			message = Automerge.decodeSyncMessage(bytes);
		} catch (error) {
			return { error: { status: 400, error: String(error) } };
		}
		let result = null;
		if (message.changes.length && this.readOnly) {
			return { error: { status: 403, error: 'view-only' } };
		}
		const held = socket.held || [];
		if (message.changes.length || held.length) {
			const changes = [...held, ...message.changes];
			socket.held = [];
			result = this.write(concat(changes));
			if (result.status === 409 && this.holdMissing) {
				socket.held = changes;
			} else if (result.status !== 200 && result.status !== 409) {
				return { error: { status: result.status, ...result.body } };
			}
		}
		socket.syncState ||= Automerge.initSyncState();
		const fork = Automerge.clone(this.doc());
		[, socket.syncState] = Automerge.receiveSyncMessage(fork, socket.syncState, bytes);
		Automerge.free(fork);
		let reply;
		[socket.syncState, reply] = Automerge.generateSyncMessage(this.doc(), socket.syncState);
		return { reply, result: result && result.status === 200 ? result : null };
	}

	stored() {
		return this.chunks.length ? concat(this.chunks) : null;
	}

	doc() {
		if (this.cached.chunks !== this.chunks) {
			this.cached = { chunks: this.chunks, doc: this.chunks.length ? Automerge.load(this.stored()) : Automerge.init() };
		}
		return this.cached.doc;
	}

	/**
	 * Merge an upload: `{status, body, pushed}` like the server's answer.
	 *
	 * Like the real server, by chunk: a new change is appended; a document chunk
	 * (a save) replaces every stored chunk whose changes it holds, and is dropped
	 * if one stored chunk, or the stored set when it replaces nothing, holds it.
	 * Then, past `compactAfter` chunks, the server compacts its copy itself.
	 */
	write(bytes) {
		this.uploads.push(bytes);
		if (this.refusals.length) {
			return this.refusals.shift();
		}
		const before = this.doc();
		let next;
		try {
			next = Automerge.loadIncremental(Automerge.clone(before), bytes);
		} catch (error) {
			return { status: 400, body: { error: String(error) } };
		}
		if (Automerge.getMissingDeps(next, []).length) {
			return { status: 409, body: { error: 'The server does not have changes this upload depends on.' } };
		}
		let chunks = this.chunks;
		for (const chunk of splitChunks(bytes).map((part) => part.slice())) {
			const held = new Set(chunks.flatMap((stored) => [...hashesOf(stored)]));
			const incoming = hashesOf(chunk);
			if (!isSave(chunk)) {
				if (!within(incoming, held)) {
					chunks = [...chunks, chunk];
				}
				continue;
			}
			if (chunks.some((stored) => within(incoming, hashesOf(stored)))) {
				continue;
			}
			const replaced = chunks.filter((stored) => within(hashesOf(stored), incoming));
			if (replaced.length === 0 && within(incoming, held)) {
				continue;
			}
			const first = chunks.findIndex((stored) => replaced.includes(stored));
			const kept = chunks.filter((stored) => !replaced.includes(stored));
			kept.splice(first === -1 ? kept.length : first, 0, chunk);
			chunks = kept;
		}
		const newChanges = Automerge.getChangesMetaSince(next, Automerge.getHeads(before)).length;
		const changed = chunks !== this.chunks;
		this.chunks = chunks;
		this.cached = { chunks, doc: next };
		if (this.chunks.length > this.compactAfter) {
			this.replaceWithSave();
		}
		const heads = Automerge.getHeads(next);
		const body = { changed, new_changes: newChanges, heads, ...this.counts() };
		return { status: 200, body, pushed: newChanges ? bytes : null, compacted: changed && !newChanges };
	}

	/** The stored chunk count and size, as acks and update frames name them. */
	counts() {
		return { chunks: this.chunks.length, size: this.chunks.reduce((total, chunk) => total + chunk.length, 0) };
	}

	replaceWithSave() {
		const doc = this.doc();
		this.chunks = [Automerge.save(doc)];
		this.cached = { chunks: this.chunks, doc };
	}

	/**
	 * Compact the stored copy into one save(), as the server does on its own, and
	 * tell every socket (unless pushes are dropped) in an update frame alone.
	 */
	compact() {
		this.replaceWithSave();
		this.push({ body: { heads: Automerge.getHeads(this.doc()), ...this.counts() }, compacted: true }, null);
	}

	/**
	 * Send a write's new bytes, then the update frame (heads, chunk count, size),
	 * to every socket but the writer's; after a write that only replaced chunks,
	 * which adds nothing, the update frame alone.
	 */
	push(result, writer) {
		if (this.dropPushes) {
			return;
		}
		const { heads, chunks, size } = result.body || {};
		for (const socket of this.sockets) {
			if (socket === writer) {
				continue;
			}
			if (result.pushed) {
				socket.deliver(result.pushed.slice().buffer);
				socket.deliver(JSON.stringify({ type: 'update', heads, chunks, size }));
			} else if (result.compacted) {
				socket.deliver(JSON.stringify({ type: 'update', heads, chunks, size }));
			}
		}
	}

	/** A WebSocket class connected to this server. */
	get WebSocket() {
		const server = this;
		return class FakeWebSocket {
			constructor(url) {
				this.url = url;
				this.open = false;
				setTimeout(() => {
					if (!server.up) {
						this.onclose?.({});
						return;
					}
					this.open = true;
					server.sockets.add(this);
					this.onopen?.({});
					const stored = server.stored();
					if (stored && !this.syncing) {
						this.deliver(stored.buffer.slice(0));
					}
				}, 1);
				this.syncing = url.endsWith('?sync=1');
				this.receivedBytes = 0;
			}

			send(bytes) {
				bytes = new Uint8Array(bytes);
				if (this.syncing && isSyncMessage(bytes)) {
					this.sendSync(bytes);
					return;
				}
				const result = server.write(bytes);
				setTimeout(() => {
					const answer = result.status === 200 ? { type: 'ack', ...result.body } : { type: 'error', status: result.status, ...result.body };
					this.deliver(JSON.stringify(answer));
					server.push(result, this);
				}, server.latency);
			}

			sendSync(bytes) {
				const { reply, error, result } = server.sync(this, bytes);
				setTimeout(() => {
					if (error) {
						this.deliver(JSON.stringify({ type: 'error', sync: true, ...error }));
						return;
					}
					if (reply) {
						this.deliver(reply.slice().buffer);
					}
					if (result) {
						server.push(result, this);
					}
				}, server.latency);
			}

			deliver(data) {
				if (this.open) {
					this.receivedBytes += typeof data === 'string' ? data.length : data.byteLength;
					this.onmessage?.({ data });
				}
			}

			close() {
				if (this.open) {
					this.open = false;
					server.sockets.delete(this);
					setTimeout(() => this.onclose?.({}), 1);
				}
			}
		};
	}

	/** A fetch function for `GET`/`POST /docs/<id>` on this server. */
	get fetch() {
		return async (url, options = {}) => {
			if (!this.up) {
				throw new TypeError('Failed to fetch');
			}
			if ((options.method || 'GET') === 'GET') {
				const stored = this.stored();
				return stored ? response(200, stored) : response(404, { error: 'No document' });
			}
			const result = this.write(new Uint8Array(options.body));
			this.push(result, null);
			return response(result.status, result.body);
		};
	}

	/** Take the server down: close every socket, refuse connections. */
	stop() {
		this.up = false;
		for (const socket of [...this.sockets]) {
			socket.close();
		}
	}

	start() {
		this.up = true;
	}
}

function response(status, body) {
	const bytes = body instanceof Uint8Array ? body : null;
	return {
		status,
		ok: status >= 200 && status < 300,
		statusText: String(status),
		headers: new Map([['ETag', bytes ? `"${bytes.length}"` : null]]),
		json: async () => (bytes ? Promise.reject(new Error('not JSON')) : body),
		arrayBuffer: async () => bytes.slice().buffer,
	};
}
