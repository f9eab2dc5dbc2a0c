/**
 * The sync protocol: keeps one list in step with the server, and says how that goes.
 *
 * On each (re)connect the socket catches up by Automerge's sync protocol
 * (tab_sync.js): the server sends only the changes this tab lacks, and this tab
 * sends the server what it lacks. After that, everyone else's writes arrive as
 * pushes and are merged as they come (over HTTP, while the socket is down, a
 * GET brings the whole stored document). We upload what the server lacks,
 * `saveSince(serverHas)`, one upload at a time, and each acknowledgement names
 * the server's heads. How bytes travel (WebSocket, or HTTP while it is down) is
 * connection.js's business.
 *
 * `serverHas` lists heads the server is known to hold (with all their history):
 * the heads we had when an upload was acknowledged, plus the heads of what the
 * server sent us. It is kept beside the document and shared with the other tabs,
 * so after a reload we still send only what the server lacks, and a change made
 * in one tab is uploaded once. Without it we upload `save()`, the whole document;
 * so we do when the server answers 409 (it lacks the history an incremental
 * upload builds on).
 *
 * The server compacts its own copy (after a write, when its stored chunks pass
 * a threshold) and announces the new chunk count and size in an update frame;
 * we never upload anything to compact it. (store.js compacts this browser's own
 * copy in IndexedDB.)
 *
 * Pushes can be lost (a full channel drops them). An acknowledgement whose heads
 * we lack, or a push whose dependencies we lack, shows it; if a moment later we
 * still lack them, we fetch the whole document over HTTP and merge it.
 *
 * A read-only Sync (a view-only link) never uploads: it only merges what the
 * server sends. When the address stops working for good (the list moved to a
 * new edit id, or the view-only link was turned off: see connection.js's
 * `ended`), syncing stops and `onEnded` listeners hear why.
 */

import { Connection, GONE, UploadRefused } from './connection.js';
import { TabSync } from './tab_sync.js';
import { Timers } from './timers.js';

export const DEBOUNCE_MS = 150;
export const TAB_DELAY_MS = 1500;
export const RESYNC_GRACE_MS = 1500;
const TOO_MANY = 429; // over a rate limit or quota: wait as long as the server asks
const DEFAULT_RETRY_AFTER = 60; // seconds, for a 429 that does not say
const SERVER_HEADS = 'serverHeads';
const NOT_FOUND = 404; // a view-only link that was turned off

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
	 * @param {object} [options.timing] Overrides of the delays (ms), for tests.
	 * @param {function(): boolean} [options.isOnline] False while the browser has no network (connection.js).
	 * @param {string} [options.viewToken] Sync by this view-only token, read-only, instead of by `docId`.
	 * @param {boolean} [options.syncProtocol] Catch up by the sync protocol on connect (false: the server sends its whole document).
	 */
	constructor({ store, docId, initialHeads, httpBase, wsBase, WebSocket = globalThis.WebSocket, fetch = globalThis.fetch, timing = {}, isOnline, viewToken = null, syncProtocol = true }) {
		this.store = store;
		this.docId = docId;
		this.readOnly = Boolean(viewToken);
		this.initialHeads = initialHeads;
		this.timing = { debounce: DEBOUNCE_MS, tabDelay: TAB_DELAY_MS, resyncGrace: RESYNC_GRACE_MS, ...timing };
		this.connection = new Connection({
			docUrl: viewToken ? `${httpBase}shared/${viewToken}` : `${httpBase}docs/${docId}`,
			wsUrl: viewToken ? `${wsBase}ws/shared/${viewToken}` : `${wsBase}ws/docs/${docId}`,
			WebSocket,
			fetch,
			timing,
			isOnline,
			endStatuses: viewToken ? [NOT_FOUND, GONE] : [GONE],
			syncProtocol,
			hooks: {
				syncMessage: (bytes) => this.syncFromServer(bytes),
				syncRefused: (frame) => this.syncRefused(frame),
				ended: (message) => this.ended(message),
				received: (bytes, complete) => this.mergeFromServer(bytes, complete),
				updated: (frame) => this.serverUpdated(frame),
				reachable: (bySocket, newSocket) => this.reachable(bySocket, newSocket),
				changed: () => this.emit(),
				presence: (event) => this.presenceListeners.forEach((listener) => listener(event)),
			},
		});
		this.serverHas = store.getMeta(SERVER_HEADS) || null;
		this.listeners = new Set();
		this.endListeners = new Set();
		this.presenceListeners = new Set();
		this.timers = new Timers();
		this.tabSync = new TabSync({ store, initialHeads, send: (bytes) => this.connection.sendSync(bytes) });
		this.syncing = false; // an exchange is under way on the socket
		this.error = null;
		this.busy = false;
		this.needFull = false;
		this.stopped = true;
	}

	/** Connect, and keep in step until `stop()`. */
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
		this.connection.start();
		this.emit();
	}

	/** Disconnect and cancel every timer. */
	stop() {
		this.stopped = true;
		if (this.unsubscribe) {
			this.unsubscribe();
		}
		this.timers.clearAll();
		this.connection.stop();
	}

	/** Call `listener(status)` whenever the status may have changed. */
	onStatus(listener) {
		this.listeners.add(listener);
		listener(this.status());
		return () => this.listeners.delete(listener);
	}

	/**
	 * What a person needs to know, as `{state, unsynced, message}`: state is
	 * 'connecting', 'saved', 'saving', 'offline', 'error' or 'ended' (the link
	 * stopped working; message says why); unsynced is true while
	 * this device holds changes the server has not acknowledged.
	 */
	status() {
		const unsynced = this.unsent();
		const { online } = this.connection;
		if (this.endedWith) {
			return { state: 'ended', unsynced, message: this.endedWith.error || 'This link no longer works.' };
		}
		if (this.error) {
			return { state: 'error', unsynced, message: this.error };
		}
		if (online === false) {
			return { state: 'offline', unsynced, message: '' };
		}
		if (online === null) {
			return { state: 'connecting', unsynced, message: '' };
		}
		return { state: unsynced || this.busy || this.syncing ? 'saving' : 'saved', unsynced, message: '' };
	}

	/** Try the server now (the browser came back online, or the tab became visible). */
	retry() {
		this.connection.retry();
	}

	/** The browser says it has no network. */
	wentOffline() {
		this.connection.wentOffline();
	}

	/** Upload within `delay` ms: changes made meanwhile travel together. */
	scheduleFlush(delay = this.timing.debounce) {
		// Never before the time a 429 asked us to wait for.
		delay = Math.max(delay, (this.waitUntil || 0) - Date.now());
		const due = Date.now() + delay;
		if (!this.timers.has('flush') || due < this.flushDue) {
			this.flushDue = due;
			this.timers.set('flush', delay, () => this.flush());
		}
	}

	/** Upload what the server lacks, one upload at a time, until it lacks nothing. */
	async flush() {
		this.timers.clear('flush');
		if (this.busy || this.stopped || this.readOnly || this.syncing) {
			return;
		}
		if (this.waitUntil > Date.now()) {
			this.scheduleFlush(0); // a 429 asked us to wait: not before then
			return;
		}
		this.busy = true;
		this.emit();
		try {
			while (!this.stopped && this.unsent()) {
				if (!(await this.uploadOnce())) {
					break;
				}
			}
		} finally {
			this.busy = false;
			this.emit();
		}
	}

	/**
	 * True while the document holds changes the server is not known to hold.
	 *
	 * That is exactly when one of the document's heads is not in `serverHas`: a
	 * head is no other change's dependency, so only being named covers it, and if
	 * every head is covered so is everything. Costs a set lookup per head, not a
	 * walk of the history (it runs on every status, so on every push).
	 */
	unsent() {
		return !this.allHeadsIn(this.serverHas || this.initialHeads);
	}

	allHeadsIn(heads) {
		const held = new Set(heads);
		return this.store.heads().every((head) => held.has(head));
	}

	/** True if the document holds every change in `heads` (at once if they are heads). */
	holds(heads) {
		const current = new Set(this.store.heads());
		return heads.every((head) => current.has(head)) || this.store.hasHeads(heads);
	}

	// The server answers again: a new socket may take a refused list again.
	// A new syncing socket catches up first; uploads wait until it has.
	reachable(bySocket, newSocket = false) {
		if (bySocket) {
			this.error = null;
		} else {
			this.syncing = false; // the socket that was syncing is gone
		}
		if (newSocket && this.connection.syncProtocol) {
			this.catchUp();
		} else {
			this.flush();
		}
	}

	/** Start a sync exchange with the server: each side gets what it lacks. */
	catchUp() {
		this.syncing = true;
		this.tabSync.start();
		this.awaitExchange();
		this.emit();
	}

	// A server that does not answer (one that does not speak sync on this
	// socket), or an exchange that goes round without moving on (both sides
	// asking for a change neither sends), must not hold uploads back: after
	// the ack timeout without progress, upload anyway.
	awaitExchange() {
		this.timers.set('exchange', this.connection.timing.ackTimeout, () => {
			this.syncing = false;
			this.flush();
			this.emit();
		});
	}

	/**
	 * A sync message from the server: merge what it brought and answer it. Once
	 * the server holds every change of ours, the exchange is done: upload
	 * whatever was made meanwhile. Only a message that moves the exchange on
	 * renews its deadline.
	 */
	syncFromServer(bytes) {
		const { added, synced, done, moved } = this.tabSync.receive(bytes);
		this.learn(added);
		if (synced) {
			this.learn(this.store.heads());
		}
		if (done) {
			this.syncing = false;
			this.timers.clear('exchange');
		} else if (this.syncing && moved) {
			this.awaitExchange();
		}
		if (this.store.missingDeps().length > 0) {
			this.scheduleResync([]);
		}
		if (done && this.unsent()) {
			this.scheduleFlush();
		}
		this.emit();
	}

	/**
	 * The server refused a sync message (`{status, error, retry_after}`): over a
	 * rate limit, try the exchange again when it says; otherwise upload what it
	 * lacks the ordinary way, which reports a refusal to the person.
	 */
	syncRefused(frame) {
		this.syncing = false;
		this.timers.clear('exchange');
		if (frame.status === TOO_MANY) {
			const wait = (frame.retry_after || DEFAULT_RETRY_AFTER) * 1000;
			this.timers.set('catchUp', wait, () => this.connection.wsOpen && this.catchUp());
		} else {
			this.flush();
		}
		this.emit();
	}

	// One upload and its answer; false if uploads should stop for now.
	async uploadOnce() {
		const full = this.needFull || this.serverHas === null;
		const sentHeads = this.store.heads();
		const bytes = full ? this.store.save() : this.store.saveSince(this.serverHas);
		let ack;
		try {
			ack = await this.connection.upload(bytes);
		} catch (error) {
			return this.refused(error, full);
		}
		this.needFull = false;
		this.error = null;
		this.acknowledged(ack, sentHeads);
		return true;
	}

	// An upload failed: true to try again at once (with the whole document).
	refused(error, full) {
		if (!(error instanceof UploadRefused)) {
			return false; // the connection retries when the server is back
		}
		if (error.status === GONE) {
			this.connection.end({ type: 'error', status: GONE, error: error.message });
			return false;
		}
		if (error.status === TOO_MANY) {
			// Over a limit of this address: the same upload later, not a bigger
			// one now. The changes stay here meanwhile.
			this.error = `The server asks this device to wait: ${error.message}`;
			const wait = (error.retryAfter || DEFAULT_RETRY_AFTER) * 1000;
			this.waitUntil = Date.now() + wait;
			this.timers.clear('flush');
			this.scheduleFlush(wait);
			return false;
		}
		if (!full) {
			// 409: the server lacks the history our changes build on. Anything
			// else refused: the whole document is the last thing worth trying.
			this.needFull = true;
			return true;
		}
		this.error = `The server did not accept this list (${error.status}): ${error.message}`;
		return false;
	}

	// The server holds what we sent and what it says it holds.
	acknowledged(ack, sentHeads) {
		const heads = Array.isArray(ack.heads) ? ack.heads : [];
		this.learn([...sentHeads, ...this.store.knownHeads(heads)]);
		if (!this.holds(heads)) {
			this.scheduleResync(heads);
		}
	}

	// Remember heads the server holds; store them beside the document (and tell
	// the other tabs) unless another tab told us.
	learn(heads, share = true) {
		if (heads.length === 0) {
			return;
		}
		let known = [...new Set([...(this.serverHas || []), ...heads])];
		if (this.allHeadsIn(known)) {
			known = this.store.heads();
		}
		this.serverHas = known;
		if (share) {
			this.store.setMeta({ [SERVER_HEADS]: known });
		}
	}

	// Bytes from the server (`complete`: its whole stored document): merge them;
	// the server holds what they added.
	mergeFromServer(bytes, complete) {
		const added = this.store.merge(bytes, 'server');
		// The first frame is the whole stored document, unless the list did not
		// exist yet when the socket opened: then it is a push of new changes.
		const heads = (complete && this.store.headsOf(bytes)) || [];
		this.learn([...added, ...heads]);
		if (this.store.missingDeps().length > 0) {
			this.scheduleResync([]);
		}
		if (this.unsent()) {
			this.scheduleFlush();
		}
		this.emit();
	}

	/**
	 * The server's `{type: 'update', heads, chunks, size}` frame, after a push or
	 * alone after the server compacted its copy (we need only its heads). If we
	 * lack some heads, a push was missed: give it a moment to arrive, then fetch
	 * everything.
	 */
	serverUpdated(frame) {
		const heads = frame && Array.isArray(frame.heads) ? frame.heads : null;
		if (!heads) {
			return;
		}
		if (!this.holds(heads)) {
			this.scheduleResync(heads);
		}
	}

	scheduleResync(heads) {
		if (this.timers.has('resync')) {
			return;
		}
		this.timers.set('resync', this.timing.resyncGrace, () => {
			if (!this.holds(heads) || this.store.missingDeps().length > 0) {
				this.connection.pull(true);
			}
		});
	}

	/** Call `listener(event)` for the socket's presence events (connection.js's `presence` hook). */
	onPresence(listener) {
		this.presenceListeners.add(listener);
		return () => this.presenceListeners.delete(listener);
	}

	/** Send a presence frame over the socket; false if it is not open. */
	sendPresence(message) {
		return this.connection.sendJSON(message);
	}

	/** Call `listener(message)` when this address stops working for good (see connection.js). */
	onEnded(listener) {
		this.endListeners.add(listener);
		return () => this.endListeners.delete(listener);
	}

	// The address stopped working: stop syncing; the changes stay on this device.
	ended(message) {
		this.stop();
		this.endedWith = message;
		this.emit();
		for (const listener of this.endListeners) {
			listener(message);
		}
	}

	emit() {
		const status = this.status();
		for (const listener of this.listeners) {
			listener(status);
		}
	}
}
