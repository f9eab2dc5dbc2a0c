/**
 * The network: keeps one list in step with the server, and reports how that goes.
 *
 * The WebSocket `/ws/docs/<id>` is the main channel. On connect the server sends
 * what it stores and then every write anyone else commits; we merge each frame.
 * We upload what the server lacks, `saveSince(serverHas)`, one frame at a time,
 * and the server answers each with an acknowledgement holding its heads. When
 * the socket is down, the same uploads go over HTTP (`POST /docs/<id>`, the
 * tutorial's path) and `GET /docs/<id>` stands in for the pushes, while the
 * socket is retried with exponential backoff.
 *
 * `serverHas` lists heads the server is known to hold (with all their history):
 * the heads we had when an upload was acknowledged, plus the heads of what the
 * server sent us. It is kept beside the document, so after a reload we still
 * send only what the server lacks. Without it we upload `save()`, the whole
 * document; so we do when the server answers 409 (it lacks the history an
 * incremental upload builds on) and to compact the server's copy when it holds
 * many chunks or far more bytes than our `save()`: a `save()` that holds every
 * stored change replaces the server's chunks with itself.
 *
 * Pushes can be lost (a full channel drops them). An acknowledgement whose heads
 * we lack, or a push whose dependencies we lack, shows it; if a moment later we
 * still lack them, we fetch the whole document over HTTP and merge it.
 */

export const DEBOUNCE_MS = 150;
export const TAB_DELAY_MS = 1500;
export const RETRY_MIN_MS = 500;
export const RETRY_MAX_MS = 8000;
export const ACK_TIMEOUT_MS = 15000;
export const RESYNC_GRACE_MS = 1500;
export const COMPACT_MAX_CHUNKS = 32;
export const COMPACT_SIZE_RATIO = 2;
export const COMPACT_SLACK_BYTES = 4096;
const SERVER_HEADS = 'serverHeads';

/** A refusal from the server: `status` is 400, 409 or 413. */
export class UploadRefused extends Error {
	constructor(status, message) {
		super(message);
		this.status = status;
	}
}

/** The server could not be reached (or the socket closed mid-upload). */
export class NetworkError extends Error {}

export class Sync {
	/**
	 * @param {object} options
	 * @param {Store} options.store The document's store (store.js).
	 * @param {string} options.docId The document's id.
	 * @param {string[]} options.initialHeads Heads every replica starts from.
	 * @param {string} options.httpBase e.g. 'http://host/' (the site root).
	 * @param {string} options.wsBase e.g. 'ws://host/'.
	 * @param {function} [options.WebSocket] The WebSocket constructor (none: HTTP only).
	 * @param {function} [options.fetch] The fetch function.
	 * @param {object} [options.timing] Overrides of the *_MS constants, for tests.
	 */
	constructor({ store, docId, initialHeads, httpBase, wsBase, WebSocket = globalThis.WebSocket, fetch = globalThis.fetch, timing = {} }) {
		this.store = store;
		this.initialHeads = initialHeads;
		this.docUrl = `${httpBase}docs/${docId}`;
		this.wsUrl = `${wsBase}ws/docs/${docId}`;
		this.WebSocket = WebSocket;
		this.fetch = fetch ? fetch.bind(globalThis) : null; // window.fetch needs its `this`
		this.timing = { debounce: DEBOUNCE_MS, tabDelay: TAB_DELAY_MS, retryMin: RETRY_MIN_MS, retryMax: RETRY_MAX_MS, ackTimeout: ACK_TIMEOUT_MS, resyncGrace: RESYNC_GRACE_MS, ...timing };
		this.serverHas = store.getMeta(SERVER_HEADS) || null;
		this.listeners = new Set();
		this.ws = null;
		this.wsOpen = false;
		this.firstFrame = false;
		this.pending = null;
		this.online = null;
		this.error = null;
		this.busy = false;
		this.needFull = false;
		this.compactNext = false;
		this.compactionUseless = false;
		this.attempt = 0;
		this.etag = null;
		this.timers = {};
		this.stopped = true;
	}

	/** Connect, and keep connecting until `stop()`. */
	start() {
		this.stopped = false;
		const unsubscribe = this.store.subscribe(({ origin }) => {
			if (origin === 'local') {
				this.scheduleFlush(this.timing.debounce);
			} else if (origin === 'tab') {
				// The tab that made the change uploads it and shares the server's
				// heads; upload it from here only if that has not happened by then.
				this.scheduleFlush(this.timing.tabDelay);
			}
			this.emit();
		});
		const unsubscribeMeta = this.store.onMeta((values) => {
			if (Array.isArray(values[SERVER_HEADS])) {
				this.learn(this.store.knownHeads(values[SERVER_HEADS]), false);
				this.emit();
			}
		});
		this.unsubscribe = () => {
			unsubscribe();
			unsubscribeMeta();
		};
		this.connect();
		this.emit();
	}

	/** Close the socket and cancel every timer. */
	stop() {
		this.stopped = true;
		if (this.unsubscribe) {
			this.unsubscribe();
		}
		for (const name of Object.keys(this.timers)) {
			this.clearTimer(name);
		}
		if (this.ws) {
			this.ws.onclose = null;
			this.ws.close();
			this.ws = null;
			this.wsOpen = false;
		}
		this.failPending(new NetworkError('Sync stopped.'));
	}

	/** Call `listener(status)` whenever the status may have changed. */
	onStatus(listener) {
		this.listeners.add(listener);
		listener(this.status());
		return () => this.listeners.delete(listener);
	}

	/**
	 * What a person needs to know, as `{state, unsynced, message}`: state is
	 * 'connecting', 'saved', 'saving', 'offline' or 'error'; unsynced is true while
	 * this device holds changes the server has not acknowledged.
	 */
	status() {
		const unsynced = this.unsent();
		if (this.error) {
			return { state: 'error', unsynced, message: this.error };
		}
		if (this.online === false) {
			return { state: 'offline', unsynced, message: '' };
		}
		if (this.online === null) {
			return { state: 'connecting', unsynced, message: '' };
		}
		return { state: unsynced || this.busy ? 'saving' : 'saved', unsynced, message: '' };
	}

	/** Retry now (the browser came back online, or the tab became visible). */
	retry() {
		if (this.stopped) {
			return;
		}
		this.attempt = 0;
		this.clearTimer('retry');
		if (!this.ws) {
			this.connect();
		} else if (this.wsOpen) {
			this.flush();
		}
	}

	/** The browser says it has no network: say so now rather than at the next failure. */
	wentOffline() {
		this.online = false;
		this.emit();
	}

	/** Upload within `delay` ms: changes made meanwhile travel together. */
	scheduleFlush(delay = this.timing.debounce) {
		const due = Date.now() + delay;
		if (!this.timers.flush || due < this.flushDue) {
			this.flushDue = due;
			this.setTimer('flush', delay, () => this.flush());
		}
	}

	/** Upload what the server lacks, one upload at a time, until it lacks nothing. */
	async flush() {
		this.clearTimer('flush');
		if (this.busy || this.stopped) {
			return;
		}
		this.busy = true;
		this.emit();
		try {
			while (!this.stopped && (this.unsent() || this.compactNext)) {
				if (!(await this.uploadOnce())) {
					break;
				}
			}
		} finally {
			this.busy = false;
			this.emit();
		}
	}

	/** True while the document holds changes the server is not known to hold. */
	unsent() {
		return this.store.hasChangesSince(this.serverHas || this.initialHeads);
	}

	// One upload and its answer; false if uploads should stop for now.
	async uploadOnce() {
		const full = this.needFull || this.compactNext || this.serverHas === null;
		const sentHeads = this.store.heads();
		const bytes = full ? this.store.save() : this.store.saveSince(this.serverHas);
		let ack;
		try {
			ack = await this.upload(bytes);
		} catch (error) {
			return this.uploadFailed(error, full);
		}
		this.needFull = false;
		this.compactNext = false;
		this.error = null;
		this.online = true;
		this.acknowledged(ack, sentHeads, full);
		return true;
	}

	uploadFailed(error, full) {
		if (error instanceof UploadRefused) {
			if (!full) {
				// 409: the server lacks the history our changes build on. Anything
				// else refused: the whole document is the last thing worth trying.
				this.needFull = true;
				return true;
			}
			this.error = `The server did not accept this list (${error.status}): ${error.message}`;
			this.compactNext = false;
			return false;
		}
		this.online = false;
		if (!this.ws) {
			this.scheduleReconnect();
		}
		return false;
	}

	// Send bytes over the socket if it is open, else over HTTP; resolve to the ack.
	upload(bytes) {
		return this.wsOpen ? this.uploadWebSocket(bytes) : this.uploadHttp(bytes);
	}

	uploadWebSocket(bytes) {
		return new Promise((resolve, reject) => {
			const ws = this.ws;
			this.pending = { resolve, reject };
			this.setTimer('ack', this.timing.ackTimeout, () => {
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
		throw new UploadRefused(response.status, body.error || response.statusText);
	}

	// The server holds what we sent and what it says it holds.
	acknowledged(ack, sentHeads, full) {
		const heads = Array.isArray(ack.heads) ? ack.heads : [];
		this.learn([...sentHeads, ...this.store.knownHeads(heads)]);
		if (!this.store.hasHeads(heads)) {
			this.scheduleResync(heads);
		} else if (full && this.tooBig(ack)) {
			// Our whole document did not shrink the server's copy: asking again
			// would only repeat the upload.
			this.compactionUseless = true;
		} else if (!full && !this.compactionUseless && this.tooBig(ack)) {
			this.compactNext = true;
		}
	}

	// Compact when the server stores many chunks, or far more than our save().
	tooBig(ack) {
		if (ack.chunks > COMPACT_MAX_CHUNKS) {
			return true;
		}
		return ack.chunks > 1 && ack.size > COMPACT_SLACK_BYTES && ack.size > COMPACT_SIZE_RATIO * this.store.save().length;
	}

	// Remember heads the server holds; store them beside the document (and tell
	// the other tabs) unless another tab told us.
	learn(heads, share = true) {
		if (heads.length === 0) {
			return;
		}
		let known = [...new Set([...(this.serverHas || []), ...heads])];
		if (!this.store.hasChangesSince(known)) {
			known = this.store.heads();
		}
		this.serverHas = known;
		if (share) {
			this.store.setMeta({ [SERVER_HEADS]: known });
		}
	}

	connect() {
		if (this.stopped || this.ws) {
			return;
		}
		if (!this.WebSocket) {
			this.pollHttp();
			return;
		}
		let ws;
		try {
			ws = new this.WebSocket(this.wsUrl);
		} catch (error) {
			this.pollHttp();
			return;
		}
		ws.binaryType = 'arraybuffer';
		this.ws = ws;
		ws.onopen = () => this.opened();
		ws.onmessage = (event) => this.received(event.data);
		ws.onclose = () => this.closed();
	}

	opened() {
		this.wsOpen = true;
		this.firstFrame = true;
		this.attempt = 0;
		this.online = true;
		this.error = null;
		this.clearTimer('retry');
		this.emit();
		this.flush();
	}

	closed() {
		const wasOpen = this.wsOpen;
		this.ws = null;
		this.wsOpen = false;
		this.failPending(new NetworkError('The connection to the server closed.'));
		if (this.stopped) {
			return;
		}
		if (wasOpen) {
			this.attempt = 0;
		}
		this.pollHttp();
	}

	// Without a socket: fetch and upload over HTTP, then try the socket again later.
	async pollHttp() {
		const reachable = await this.pull();
		if (this.stopped) {
			return;
		}
		if (reachable) {
			await this.flush();
		} else {
			this.online = false;
			this.emit();
		}
		this.scheduleReconnect();
	}

	scheduleReconnect() {
		if (this.stopped || this.timers.retry || this.ws) {
			return;
		}
		const ceiling = Math.min(this.timing.retryMax, this.timing.retryMin * 2 ** this.attempt);
		this.attempt += 1;
		const delay = ceiling / 2 + (Math.random() * ceiling) / 2;
		this.setTimer('retry', delay, () => this.connect());
	}

	received(data) {
		if (typeof data === 'string') {
			this.answered(data);
			return;
		}
		const bytes = new Uint8Array(data);
		const first = this.firstFrame;
		this.firstFrame = false;
		this.mergeFromServer(bytes, first);
	}

	// A frame or GET body from the server: merge it; it holds what it added.
	mergeFromServer(bytes, complete) {
		const added = this.store.merge(bytes, 'server');
		const heads = complete ? this.store.headsOf(bytes) : null;
		if (added.length || heads) {
			this.learn([...added, ...(heads || [])]);
		}
		if (this.store.missingDeps().length > 0) {
			this.scheduleResync([]);
		} else if (complete && !this.compactionUseless && bytes.length > COMPACT_SLACK_BYTES && bytes.length > COMPACT_SIZE_RATIO * this.store.save().length) {
			this.compactNext = true;
		}
		if (this.unsent() || this.compactNext) {
			this.scheduleFlush();
		}
		this.emit();
	}

	answered(text) {
		let message;
		try {
			message = JSON.parse(text);
		} catch {
			return;
		}
		if (message.type === 'ack') {
			this.settlePending((pending) => pending.resolve(message));
		} else if (message.type === 'error') {
			this.settlePending((pending) => pending.reject(new UploadRefused(message.status || 400, message.error || 'refused')));
		}
	}

	settlePending(settle) {
		const pending = this.pending;
		this.pending = null;
		this.clearTimer('ack');
		if (pending) {
			settle(pending);
		}
	}

	failPending(error) {
		this.settlePending((pending) => pending.reject(error));
	}

	// We may have missed a push: give it a moment to arrive, then fetch everything.
	scheduleResync(heads) {
		if (this.timers.resync) {
			return;
		}
		this.setTimer('resync', this.timing.resyncGrace, async () => {
			if (!this.store.hasHeads(heads) || this.store.missingDeps().length > 0) {
				this.etag = null;
				await this.pull();
			}
		});
	}

	/** GET the stored document and merge it; false if the server is unreachable. */
	async pull() {
		let response;
		try {
			response = await this.fetch(this.docUrl, {
				headers: this.etag ? { 'If-None-Match': this.etag } : {},
				cache: 'no-store',
			});
		} catch {
			return false;
		}
		if (response.status >= 500) {
			return false;
		}
		this.online = true;
		if (response.status === 200) {
			this.etag = response.headers.get('ETag');
			this.mergeFromServer(new Uint8Array(await response.arrayBuffer()), true);
		}
		this.emit();
		return true;
	}

	emit() {
		const status = this.status();
		for (const listener of this.listeners) {
			listener(status);
		}
	}

	setTimer(name, delay, callback) {
		this.clearTimer(name);
		this.timers[name] = setTimeout(() => {
			delete this.timers[name];
			callback();
		}, delay);
	}

	clearTimer(name) {
		if (this.timers[name]) {
			clearTimeout(this.timers[name]);
			delete this.timers[name];
		}
	}
}
