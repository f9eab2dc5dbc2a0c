/**
 * Shared pieces of the Node tests: Automerge, a fake server that keeps the
 * storage API's contract (chunks, 409 for missing dependencies, acks with heads,
 * pushes to other sockets), and a wait-for-condition helper.
 */

import * as Automerge from '@automerge/automerge';
import { todoDocument } from '../../static/todos/doc.js';
import { concat } from '../../static/todos/store.js';

export { Automerge };
export const todos = todoDocument(Automerge);

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

/** The storage API in memory, with the server's rules, reachable or not. */
export class FakeServer {
	constructor() {
		this.chunks = [];
		this.sockets = new Set();
		this.up = true;
		this.dropPushes = false;
		this.uploads = [];
	}

	stored() {
		return this.chunks.length ? concat(this.chunks) : null;
	}

	doc() {
		return this.chunks.length ? Automerge.load(this.stored()) : Automerge.init();
	}

	/** Merge an upload: `{status, body, pushed}` like the server's answer. */
	write(bytes) {
		this.uploads.push(bytes);
		const before = this.doc();
		const beforeHeads = Automerge.getHeads(before);
		let next;
		try {
			next = Automerge.loadIncremental(Automerge.clone(before), bytes);
		} catch (error) {
			return { status: 400, body: { error: String(error) } };
		}
		if (Automerge.getMissingDeps(next, []).length) {
			return { status: 409, body: { error: 'The server does not have changes this upload depends on.' } };
		}
		const heads = Automerge.getHeads(next);
		const changed = !(heads.length === beforeHeads.length && heads.every((h) => beforeHeads.includes(h)));
		const whole = this.loadsAlone(bytes);
		if (whole && Automerge.hasHeads(whole, heads)) {
			this.chunks = [bytes]; // a save() holding everything compacts the document
		} else if (changed) {
			this.chunks = [...this.chunks, bytes];
		}
		const size = this.chunks.reduce((total, chunk) => total + chunk.length, 0);
		return { status: 200, body: { changed, heads, chunks: this.chunks.length, size }, pushed: changed ? bytes : null };
	}

	loadsAlone(bytes) {
		try {
			return Automerge.load(bytes);
		} catch {
			return null;
		}
	}

	/** Send a write's new bytes, then its heads, to every socket but the writer's. */
	push(result, writer) {
		if (!result.pushed || this.dropPushes) {
			return;
		}
		for (const socket of this.sockets) {
			if (socket !== writer) {
				socket.deliver(result.pushed.slice().buffer);
				socket.deliver(JSON.stringify({ type: 'update', heads: result.body.heads }));
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
					if (stored) {
						this.deliver(stored.buffer.slice(0));
					}
				}, 1);
			}

			send(bytes) {
				const result = server.write(new Uint8Array(bytes));
				setTimeout(() => {
					const answer = result.status === 200 ? { type: 'ack', ...result.body } : { type: 'error', status: result.status, error: result.body.error };
					this.deliver(JSON.stringify(answer));
					server.push(result, this);
				}, 1);
			}

			deliver(data) {
				if (this.open) {
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
