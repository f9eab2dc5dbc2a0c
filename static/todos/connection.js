/**
 * The connection to the server for one document: the WebSocket, with HTTP when
 * the socket is down.
 *
 * The socket `/ws/docs/<id>` carries uploads (binary frames), their answers (JSON
 * text frames: an ack, or an error with an HTTP status) and the server's frames
 * (the stored document first, then everyone else's writes). While it is down,
 * `upload` goes by `POST /docs/<id>` (the tutorial's path), `GET /docs/<id>`
 * stands in for the frames, and the socket is retried with exponential backoff
 * and jitter. Whether the server was reachable at the last try is `online`.
 * While the browser says it has no network (`navigator.onLine` false) nothing
 * is tried (each try would only fail, and the browser logs every failed
 * request as an error) until `retry()`, which the page calls on `online`.
 *
 * With `syncProtocol` the socket is opened with `?sync=1`: the server then sends
 * no stored document on connect, and binary frames that start like an Automerge
 * sync message go to the `syncMessage(bytes)` hook (tab_sync.js); `sendSync`
 * sends one. Refused sync messages come back as error frames marked
 * `sync: true`, for the `syncRefused(frame)` hook; they never settle an upload.
 *
 * What is uploaded and what frames mean is sync.js's business; it hears of this
 * module through four hooks: `received(bytes, complete)` for the server's bytes
 * (`complete` when they are the whole stored document), `updated(frame)` for the
 * server's `{type: 'update', heads, chunks, size}` frames (one follows each
 * push; one alone follows the server's compaction of its copy, which has no
 * new bytes),
 * `reachable(bySocket, newSocket)` when the server answers after a disconnection
 * (`newSocket` when a socket has just opened),
 * `changed()` when `online` may have changed, and `ended(message)` when this
 * address stopped working for good: the list moved to a new edit id
 * (`{type: 'moved', doc_id}`), its view-only link was turned off
 * (`{type: 'revoked', status: 404, error}`), or the server answers one of
 * `endStatuses` (`{type: 'error', status, error}`). Then the connection stops.
 * A fifth, `presence(event)`, hears `{type: 'open'}` and `{type: 'closed'}` as
 * the socket opens and closes, and the server's presence frames
 * (`{type: 'presence', others, timeout}`, and errors with `about: 'presence'`);
 * `sendJSON` sends presence.js's frames.
 */

import { isSyncMessage } from './tab_sync.js';
import { Timers } from './timers.js';

export const RETRY_MIN_MS = 500;
export const RETRY_MAX_MS = 8000;
export const ACK_TIMEOUT_MS = 15000;
export const GONE = 410; // the edit id was replaced: it accepts nothing any more
const ENDING_FRAMES = ['moved', 'revoked'];

/** False while the browser says it has no network (true where there is no `navigator`). */
function browserOnline() {
	return globalThis.navigator?.onLine !== false;
}

/**
 * A refusal from the server: `status` is 400, 409, 413, 422 or 429; for 429 (over a
 * limit) `retryAfter` is the seconds the server asks us to wait, or null.
 */
export class UploadRefused extends Error {
	constructor(status, message, retryAfter = null) {
		super(message);
		this.status = status;
		this.retryAfter = retryAfter;
	}
}

/** The server could not be reached (or the socket closed mid-upload). */
export class NetworkError extends Error {}

export class Connection {
	/**
	 * @param {object} options
	 * @param {string} options.docUrl The document's HTTP URL.
	 * @param {string} options.wsUrl The document's WebSocket URL.
	 * @param {function} [options.WebSocket] The WebSocket constructor (none: HTTP only).
	 * @param {function} options.fetch The fetch function.
	 * @param {object} options.hooks `{received, updated, reachable, changed}`, see above.
	 * @param {object} [options.timing] Overrides of `{retryMin, retryMax, ackTimeout}` (ms).
	 * @param {function(): boolean} [options.isOnline] False while the browser has no network.
	 * @param {number[]} [options.endStatuses] Statuses of a GET that mean the address is gone for good.
	 * @param {boolean} [options.syncProtocol] Open the socket with `?sync=1` (see above).
	 */
	constructor({ docUrl, wsUrl, WebSocket, fetch, hooks, timing = {}, isOnline = browserOnline, endStatuses = [GONE], syncProtocol = false }) {
		this.endStatuses = endStatuses;
		this.docUrl = docUrl;
		this.syncProtocol = syncProtocol;
		this.wsUrl = syncProtocol ? `${wsUrl}?sync=1` : wsUrl;
		this.WebSocket = WebSocket;
		this.fetch = fetch ? fetch.bind(globalThis) : null; // window.fetch needs its `this`
		this.hooks = hooks;
		this.timing = { retryMin: RETRY_MIN_MS, retryMax: RETRY_MAX_MS, ackTimeout: ACK_TIMEOUT_MS, ...timing };
		this.timers = new Timers();
		this.isOnline = isOnline;
		this.ws = null;
		this.wsOpen = false;
		this.firstFrame = false;
		this.pending = null;
		this.online = null;
		this.attempt = 0;
		this.etag = null;
		this.stopped = true;
	}

	/** Connect, and keep reconnecting until `stop()`. */
	start() {
		this.stopped = false;
		this.connect();
	}

	/** Close the socket and cancel every timer. */
	stop() {
		this.stopped = true;
		this.timers.clearAll();
		if (this.ws) {
			this.ws.onclose = null;
			this.ws.close();
			this.ws = null;
			this.wsOpen = false;
			this.hooks.presence?.({ type: 'closed' });
		}
		this.failPending(new NetworkError('The connection was stopped.'));
	}

	/** Try the server now (the browser came back online, or the tab became visible). */
	retry() {
		if (this.stopped) {
			return;
		}
		this.attempt = 0;
		this.timers.clear('retry');
		if (!this.ws) {
			this.connect();
		} else if (this.wsOpen) {
			this.online = true; // the socket outlived the network's absence
			this.hooks.changed();
			this.hooks.reachable(true);
		}
	}

	/** The browser says it has no network: say so now rather than at the next failure. */
	wentOffline() {
		this.online = false;
		this.hooks.changed();
	}

	/** Send `message` as a JSON text frame if the socket is open; true if it was sent. */
	sendJSON(message) {
		if (!this.wsOpen) {
			return false;
		}
		this.ws.send(JSON.stringify(message));
		return true;
	}

	/**
	 * Send Automerge bytes: over the socket if it is open, else over HTTP.
	 *
	 * Resolves to the server's acknowledgement (`{heads, chunks, size, ...}`);
	 * rejects with UploadRefused (the server said no) or NetworkError.
	 */
	async upload(bytes) {
		try {
			if (!this.isOnline()) {
				throw new NetworkError('This browser is offline.');
			}
			const ack = await (this.wsOpen ? this.uploadWebSocket(bytes) : this.uploadHttp(bytes));
			this.online = true;
			return ack;
		} catch (error) {
			if (error instanceof NetworkError) {
				this.online = false;
				this.hooks.changed();
				if (!this.ws) {
					this.scheduleReconnect();
				}
			}
			throw error;
		}
	}

	/**
	 * GET the stored document and hand it to `received`; false if unreachable.
	 *
	 * @param {boolean} [fresh] Ask for the whole document even if it is unchanged.
	 */
	async pull(fresh = false) {
		if (fresh) {
			this.etag = null;
		}
		if (!this.isOnline()) {
			return false;
		}
		let response;
		let bytes = null;
		try {
			response = await this.fetch(this.docUrl, {
				headers: this.etag ? { 'If-None-Match': this.etag } : {},
				cache: 'no-store',
			});
			if (response.status === 200) {
				bytes = new Uint8Array(await response.arrayBuffer());
			}
		} catch {
			return false; // unreachable, or the connection dropped mid-body
		}
		if (response.status >= 500) {
			return false;
		}
		if (this.endStatuses.includes(response.status)) {
			const body = await response.json().catch(() => ({}));
			this.end({ type: 'error', status: response.status, error: body.error || response.statusText });
			return false;
		}
		this.online = true;
		if (bytes) {
			this.etag = response.headers.get('ETag');
			this.hooks.received(bytes, true);
		}
		this.hooks.changed();
		return true;
	}

	/** Send a sync message over the open socket; false if the socket is not open. */
	sendSync(bytes) {
		if (!this.wsOpen) {
			return false;
		}
		this.ws.send(bytes);
		return true;
	}

	uploadWebSocket(bytes) {
		return new Promise((resolve, reject) => {
			const ws = this.ws;
			this.pending = { resolve, reject };
			this.timers.set('ack', this.timing.ackTimeout, () => {
				this.failPending(new NetworkError('The server did not acknowledge an upload in time.'));
				ws.close();
			});
			ws.send(bytes);
		});
	}

	async uploadHttp(bytes) {
		let response;
		try {
			response = await this.fetch(this.docUrl, {
				method: 'POST',
				body: bytes,
				headers: { 'Content-Type': 'application/octet-stream' },
			});
		} catch (error) {
			throw new NetworkError(String(error));
		}
		const body = await response.json().catch(() => ({}));
		if (response.ok) {
			return body;
		}
		if (response.status >= 500) {
			throw new NetworkError(`The server failed (${response.status}).`);
		}
		const retryAfter = Number(response.headers?.get('Retry-After')) || null;
		throw new UploadRefused(response.status, body.error || response.statusText, retryAfter);
	}

	connect() {
		if (this.stopped || this.ws) {
			return;
		}
		if (!this.isOnline()) {
			this.wentOffline(); // and wait for retry() when the network is back
			return;
		}
		let ws = null;
		try {
			ws = this.WebSocket ? new this.WebSocket(this.wsUrl) : null;
		} catch (error) {
			console.warn('Could not open a WebSocket; using HTTP:', error);
		}
		if (!ws) {
			this.pollHttp();
			return;
		}
		ws.binaryType = 'arraybuffer';
		this.ws = ws;
		ws.onopen = () => this.opened();
		ws.onmessage = (event) => this.receivedFrame(event.data);
		ws.onclose = () => this.closed();
	}

	opened() {
		this.wsOpen = true;
		this.firstFrame = !this.syncProtocol; // a syncing socket is sent no stored document
		this.attempt = 0;
		this.online = true;
		this.timers.clear('retry');
		this.hooks.changed();
		this.hooks.reachable(true, true);
		this.hooks.presence?.({ type: 'open' });
	}

	closed() {
		const wasOpen = this.wsOpen;
		this.ws = null;
		this.wsOpen = false;
		if (wasOpen) {
			this.hooks.presence?.({ type: 'closed' });
		}
		this.failPending(new NetworkError('The connection to the server closed.'));
		if (this.stopped) {
			return;
		}
		if (wasOpen) {
			this.attempt = 0;
		}
		this.pollHttp();
	}

	// Without a socket: catch up and upload over HTTP, then try the socket again later.
	async pollHttp() {
		const reachable = await this.pull();
		if (this.stopped) {
			return;
		}
		if (reachable) {
			this.hooks.reachable(false);
		} else {
			this.online = false;
			this.hooks.changed();
		}
		this.scheduleReconnect();
	}

	scheduleReconnect() {
		if (this.stopped || this.timers.has('retry') || this.ws) {
			return;
		}
		const ceiling = Math.min(this.timing.retryMax, this.timing.retryMin * 2 ** this.attempt);
		this.attempt += 1;
		const delay = ceiling / 2 + (Math.random() * ceiling) / 2;
		this.timers.set('retry', delay, () => this.connect());
	}

	receivedFrame(data) {
		if (typeof data === 'string') {
			this.answered(data);
			return;
		}
		const bytes = new Uint8Array(data);
		if (this.syncProtocol && isSyncMessage(bytes)) {
			this.hooks.syncMessage(bytes);
			return;
		}
		const complete = this.firstFrame;
		this.firstFrame = false;
		this.hooks.received(bytes, complete);
	}

	answered(text) {
		let message;
		try {
			message = JSON.parse(text);
		} catch {
			return;
		}
		if (message.type === 'presence' || message.about === 'presence') {
			this.hooks.presence?.(message);
		} else if (message.type === 'ack') {
			this.settlePending((pending) => pending.resolve(message));
		} else if (ENDING_FRAMES.includes(message.type) || (message.type === 'error' && !this.pending && this.endStatuses.includes(message.status))) {
			this.end(message);
		} else if (message.type === 'error' && message.sync) {
			this.hooks.syncRefused?.(message);
		} else if (message.type === 'error') {
			const refusal = new UploadRefused(message.status || 400, message.error || 'refused', message.retry_after ?? null);
			this.settlePending((pending) => pending.reject(refusal));
		} else if (message.type === 'update') {
			this.hooks.updated(message);
		}
	}

	/** This address stopped working for good (see `ended` above): stop, and say why. */
	end(message) {
		if (this.stopped) {
			return;
		}
		this.stop();
		this.hooks.ended?.(message);
	}

	settlePending(settle) {
		const pending = this.pending;
		this.pending = null;
		this.timers.clear('ack');
		if (pending) {
			settle(pending);
		}
	}

	failPending(error) {
		this.settlePending((pending) => pending.reject(error));
	}
}
