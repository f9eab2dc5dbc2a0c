/**
 * The sync protocol: keeps one list in step with the server, and says how that goes.
 *
 * The server's bytes (its stored document on connect, then everyone else's
 * writes) are merged as they come. We upload what the server lacks,
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
 * Compaction: when the server's copy holds many chunks, or far more bytes than
 * our `save()`, one client uploads `save()`, which replaces every stored chunk it
 * contains. Every client that writes hears of too many chunks, so each waits
 * first, then looks again at the latest count it knows (its acks, and the update
 * frame the server sends after someone else's compaction) and does nothing if
 * another client compacted meanwhile. The wait is one slot (well over a round
 * trip) per chunk beyond the first too many that its ack reported, plus a random
 * part of one: each write adds a chunk, so each writer's count is its own, the
 * writer that first went over the limit goes first and the others hear of it in
 * time. The `save()` travels alone, once this client has uploaded its changes
 * and holds every head the server named: it adds nothing new (so it is pushed
 * to nobody) and holds everything stored, so it replaces the stored chunks
 * instead of joining them.
 * Tabs of one browser compact one at a time (a Web Lock, where there is one).
 *
 * Pushes can be lost (a full channel drops them). An acknowledgement whose heads
 * we lack, or a push whose dependencies we lack, shows it; if a moment later we
 * still lack them, we fetch the whole document over HTTP and merge it.
 */

import { Connection, UploadRefused } from './connection.js';
import { Timers } from './timers.js';

export const DEBOUNCE_MS = 150;
export const TAB_DELAY_MS = 1500;
export const RESYNC_GRACE_MS = 1500;
export const COMPACT_MAX_CHUNKS = 32;
export const COMPACT_SIZE_RATIO = 2;
export const COMPACT_SLACK_BYTES = 4096;
export const COMPACT_SLOT_MS = 1000;
export const COMPACT_SPREAD_SLOTS = 10;
export const COMPACT_MAX_SLOTS = 30;
const SERVER_HEADS = 'serverHeads';

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
	 * @param {LockManager} [options.locks] Web Locks (`navigator.locks`; none: no lock).
	 * @param {object} [options.timing] Overrides of the delays (ms), for tests.
	 */
	constructor({ store, docId, initialHeads, httpBase, wsBase, WebSocket = globalThis.WebSocket, fetch = globalThis.fetch, locks = globalThis.navigator?.locks, timing = {} }) {
		this.store = store;
		this.docId = docId;
		this.initialHeads = initialHeads;
		this.locks = locks || null;
		this.timing = { debounce: DEBOUNCE_MS, tabDelay: TAB_DELAY_MS, resyncGrace: RESYNC_GRACE_MS, compactSlot: COMPACT_SLOT_MS, ...timing };
		this.connection = new Connection({
			docUrl: `${httpBase}docs/${docId}`,
			wsUrl: `${wsBase}ws/docs/${docId}`,
			WebSocket,
			fetch,
			timing,
			hooks: {
				received: (bytes, complete) => this.mergeFromServer(bytes, complete),
				updated: (frame) => this.serverUpdated(frame),
				reachable: (bySocket) => this.reachable(bySocket),
				changed: () => this.emit(),
			},
		});
		this.serverHas = store.getMeta(SERVER_HEADS) || null;
		this.listeners = new Set();
		this.timers = new Timers();
		this.error = null;
		this.busy = false;
		this.needFull = false;
		// What the server last said it stores: heads, chunk count, size in bytes.
		this.server = { heads: null, chunks: null, size: null };
		this.compactNext = false;
		this.compactionUseless = false;
		this.compactions = 0; // compacting saves sent (for tests and simulations)
		this.saveLength = null;
		this.saveStale = true;
		this.stopped = true;
	}

	/** Connect, and keep in step until `stop()`. */
	start() {
		this.stopped = false;
		const unsubscribe = this.store.subscribe(({ origin }) => {
			this.saveStale = true;
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
	 * 'connecting', 'saved', 'saving', 'offline' or 'error'; unsynced is true while
	 * this device holds changes the server has not acknowledged.
	 */
	status() {
		const unsynced = this.unsent();
		const { online } = this.connection;
		if (this.error) {
			return { state: 'error', unsynced, message: this.error };
		}
		if (online === false) {
			return { state: 'offline', unsynced, message: '' };
		}
		if (online === null) {
			return { state: 'connecting', unsynced, message: '' };
		}
		return { state: unsynced || this.busy ? 'saving' : 'saved', unsynced, message: '' };
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
		const due = Date.now() + delay;
		if (!this.timers.has('flush') || due < this.flushDue) {
			this.flushDue = due;
			this.timers.set('flush', delay, () => this.flush());
		}
	}

	/**
	 * Upload what the server lacks, one upload at a time, until it lacks nothing;
	 * then the compacting `save()` if one is due.
	 */
	async flush() {
		this.timers.clear('flush');
		if (this.busy || this.stopped) {
			return;
		}
		this.busy = true;
		this.emit();
		try {
			while (!this.stopped) {
				let more = false;
				if (this.unsent()) {
					more = await this.uploadOnce();
				} else if (this.compactNext && this.upToDate()) {
					more = await this.compactOnce();
				}
				if (!more) {
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

	/** True if we hold everything the server last named, with nothing missing. */
	upToDate() {
		return (this.server.heads === null || this.holds(this.server.heads)) && this.store.missingDeps().length === 0;
	}

	// The server answers again: a new socket may take a refused list again.
	reachable(bySocket) {
		if (bySocket) {
			this.error = null;
		}
		this.flush();
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
		this.acknowledged(ack, sentHeads, false);
		return true;
	}

	// The compacting save(), if it is still needed; false if uploads should stop.
	async compactOnce() {
		this.compactNext = false;
		if (!this.tooBig()) {
			return true; // someone else compacted meanwhile
		}
		return this.withCompactionLock(async () => {
			const sentHeads = this.store.heads();
			let ack;
			try {
				ack = await this.connection.upload(this.store.save());
			} catch (error) {
				if (error instanceof UploadRefused) {
					// Every change is on the server already; only the tidying failed.
					this.compactionUseless = true;
					return true;
				}
				this.compactNext = true; // try again when the server is back
				return false;
			}
			this.compactions += 1;
			this.acknowledged(ack, sentHeads, true);
			return true;
		});
	}

	// Run `task` holding this list's compaction lock, shared by this browser's
	// tabs; if another tab holds it, that tab is compacting: skip (true).
	async withCompactionLock(task) {
		if (!this.locks) {
			return task();
		}
		let ran = false;
		try {
			return await this.locks.request(`todos:compact:${this.docId}`, { ifAvailable: true }, (lock) => {
				ran = true;
				return lock ? task() : true;
			});
		} catch (error) {
			if (ran) {
				throw error;
			}
			return task(); // no usable Web Locks here
		}
	}

	// An upload failed: true to try again at once (with the whole document).
	refused(error, full) {
		if (!(error instanceof UploadRefused)) {
			return false; // the connection retries when the server is back
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
	acknowledged(ack, sentHeads, compacting) {
		const heads = Array.isArray(ack.heads) ? ack.heads : [];
		this.learn([...sentHeads, ...this.store.knownHeads(heads)]);
		this.server.heads = heads;
		this.serverStores(ack.chunks, ack.size);
		if (!this.holds(heads)) {
			this.scheduleResync(heads);
		}
		if (compacting && this.tooBig()) {
			// Our whole document did not shrink the server's copy: asking again
			// would only repeat the upload.
			this.compactionUseless = true;
		} else if (!compacting && this.tooBig()) {
			this.considerCompaction(Math.min(this.pastLimit(), COMPACT_MAX_SLOTS));
		}
	}

	// How many chunks the server's copy holds beyond the first that made it too
	// big (by count, or by size in chunks of its average size): this writer's
	// place in the queue of compactors, since every write adds a chunk.
	pastLimit() {
		const { chunks, size } = this.server;
		let past = chunks > COMPACT_MAX_CHUNKS ? chunks - COMPACT_MAX_CHUNKS - 1 : Infinity;
		if (chunks > 1 && this.muchLarger(size)) {
			const limit = Math.max(COMPACT_SLACK_BYTES, COMPACT_SIZE_RATIO * this.saveLength);
			past = Math.min(past, Math.floor((size - limit) / (size / chunks)));
		}
		return Number.isFinite(past) ? past : 0;
	}

	// Note the stored chunk count and size the server reported (if it did), and
	// drop a compaction that is no longer needed.
	serverStores(chunks, size) {
		if (typeof chunks === 'number') {
			this.server.chunks = chunks;
		}
		if (typeof size === 'number') {
			this.server.size = size;
		}
		if (!this.tooBig()) {
			this.timers.clear('compact');
			this.compactNext = false;
		}
	}

	// The server's copy is too big: compact it after `slots` and a random part of
	// one (or sooner, if already due sooner), unless someone else does first
	// (serverStores cancels the timer when we hear of it).
	considerCompaction(slots) {
		if (this.compactionUseless || this.compactNext || !this.tooBig()) {
			return;
		}
		const delay = (Math.max(0, slots) + Math.random()) * this.timing.compactSlot;
		if (this.timers.has('compact') && this.compactDue <= Date.now() + delay) {
			return;
		}
		this.compactDue = Date.now() + delay;
		this.timers.set('compact', delay, () => {
			if (this.tooBig()) {
				this.compactNext = true;
				this.flush();
			}
		});
	}

	// Compact when the server stores many chunks, or far more than our save().
	tooBig() {
		const { chunks, size } = this.server;
		if (chunks > COMPACT_MAX_CHUNKS) {
			return true;
		}
		return (chunks === null || chunks > 1) && size !== null && this.muchLarger(size);
	}

	// True if `size` is far more than our save(). The save's length is cached: it
	// only grows, so it is computed again only when the cached one says yes and
	// the document changed since.
	muchLarger(size) {
		if (size <= COMPACT_SLACK_BYTES) {
			return false;
		}
		if (this.saveLength === null || (this.saveStale && size > COMPACT_SIZE_RATIO * this.saveLength)) {
			this.saveLength = this.store.save().length;
			this.saveStale = false;
		}
		return size > COMPACT_SIZE_RATIO * this.saveLength;
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
		const heads = complete ? this.store.headsOf(bytes) : null;
		this.learn([...added, ...(heads || [])]);
		if (heads) {
			this.server.heads = heads;
		}
		if (this.store.missingDeps().length > 0) {
			this.scheduleResync([]);
		} else if (complete) {
			// The whole stored document: its size (its chunk count stays the last we
			// heard). Every client that connects sees the same: spread them out.
			this.serverStores(undefined, bytes.length);
			this.considerCompaction(Math.floor(Math.random() * COMPACT_SPREAD_SLOTS));
		}
		if (this.unsent() || this.compactNext) {
			this.scheduleFlush();
		}
		this.emit();
	}

	/**
	 * The server's `{type: 'update', heads}` frame, after a push or alone after a
	 * compaction (with `chunks` and `size`). If we lack some heads, a push was
	 * missed: give it a moment to arrive, then fetch everything.
	 */
	serverUpdated(frame) {
		const heads = frame && Array.isArray(frame.heads) ? frame.heads : null;
		if (!heads) {
			return;
		}
		this.server.heads = heads;
		this.serverStores(frame.chunks, frame.size);
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

	emit() {
		const status = this.status();
		for (const listener of this.listeners) {
			listener(status);
		}
	}
}
