/**
 * The owner of one list's Automerge document, its local copy and its tabs.
 *
 * Only this module holds the document. Every update (a local change, bytes from
 * the server, bytes from another tab) goes through `_update`, which appends the
 * new changes to storage (IndexedDB), sends them to this browser's other tabs
 * over a BroadcastChannel and tells the subscribers (the view, the network).
 * The network reads and writes the document only through the byte-level
 * methods named after Automerge's own (`save`, `saveSince`, `merge`, and the
 * sync protocol's `initSyncState`, `generateSyncMessage`, `receiveSyncMessage`).
 *
 * Tabs talk in three messages: `{type: 'changes', bytes}` carries new changes;
 * `{type: 'hello', heads}` says what a tab holds, and any tab holding more
 * answers with the changes it lacks. A tab says hello when it opens and when
 * it receives changes whose dependencies it lacks, so tabs converge without a
 * server even if one missed a message. `{type: 'meta', values}` shares what
 * one tab learnt about the server, so the others need not upload it again.
 */

/** Chunks a document may have in storage before they are compacted into one. */
export const COMPACT_AFTER_CHUNKS = 64;

/** The BroadcastChannel name for a document. */
export function channelName(docId) {
	return `todos:${docId}`;
}

export class Store {
	/**
	 * @param {object} options
	 * @param {object} options.Automerge The Automerge namespace.
	 * @param {string} options.docId The document's id.
	 * @param {function(): object} options.create Makes the empty document.
	 * @param {object} options.storage An IndexedDBStorage or MemoryStorage.
	 * @param {BroadcastChannel} [options.channel] This document's tab channel.
	 * @param {number} [options.compactAfter] See COMPACT_AFTER_CHUNKS.
	 */
	constructor({ Automerge, docId, create, storage, channel = null, compactAfter = COMPACT_AFTER_CHUNKS }) {
		this.A = Automerge;
		this.docId = docId;
		this.create = create;
		this.storage = storage;
		this.channel = channel;
		this.compactAfter = compactAfter;
		this.listeners = new Set();
		this.metaListeners = new Set();
		this.meta = {};
		this.chunkCount = 0;
		this.writes = Promise.resolve();
		this.compacting = null;
		this.doc = null;
		this.currentHeads = [];
	}

	/** Load the document from storage and start listening to other tabs. */
	async open() {
		const chunks = await this.storage.loadChunks(this.docId);
		this.doc = this._loadChunks(this.create(), chunks);
		this.currentHeads = this.A.getHeads(this.doc);
		this.chunkCount = chunks.length;
		this.meta = await this.storage.getMeta(this.docId);
		if (this.channel) {
			this.channel.onmessage = (event) => this._receive(event.data);
			this._hello(false);
		}
		if (this.chunkCount > this.compactAfter) {
			this.compact();
		}
		return this;
	}

	/**
	 * Call `listener({origin, patches})` after every update; returns the
	 * unsubscribe function. `patches` are Automerge's patches of an update that
	 * came as bytes (undefined for a local change).
	 */
	subscribe(listener) {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	/** Apply a local change: `mutate(doc)` returns the new document (see doc.js). */
	change(mutate) {
		return this._update(mutate(this.doc), 'local');
	}

	/**
	 * Merge Automerge bytes from elsewhere (`origin`: 'server' or 'tab').
	 *
	 * Returns the heads of the changes this added (empty if none): whoever sent
	 * the bytes holds those changes and everything they depend on.
	 */
	merge(bytes, origin = 'server') {
		if (!bytes || bytes.length === 0) {
			return [];
		}
		const before = this.currentHeads;
		let next;
		let patches;
		try {
			next = this.A.loadIncremental(this.doc, bytes, { patchCallback: (made) => (patches = made) });
		} catch (error) {
			console.warn(`Ignored ${bytes.length} bytes from ${origin} that Automerge could not load:`, error);
			return [];
		}
		return this._update(next, origin, patches) ? this._addedHeads(before) : [];
	}

	/** A new sync state, for one exchange with a peer (Automerge's `initSyncState`). */
	initSyncState() {
		return this.A.initSyncState();
	}

	/** `[state, message or null]`: what the peer should be sent next. */
	generateSyncMessage(state) {
		return this.A.generateSyncMessage(this.doc, state);
	}

	/**
	 * Take a sync message from the server; returns `{state, added}`, `added`
	 * being the heads of the changes it brought (see `merge`). A message
	 * Automerge cannot read changes nothing: `{state, added: [], failed: true}`.
	 */
	receiveSyncMessage(state, message) {
		const before = this.currentHeads;
		let next;
		let nextState;
		let patches;
		try {
			[next, nextState] = this.A.receiveSyncMessage(this.doc, state, message, { patchCallback: (made) => (patches = made) });
		} catch (error) {
			console.warn(`Ignored a sync message of ${message.length} bytes that Automerge could not read:`, error);
			return { state, added: [], failed: true };
		}
		const added = this._update(next, 'server', patches) ? this._addedHeads(before) : [];
		return { state: nextState, added };
	}

	/** True if the peer of sync `state` is known to hold every change of ours. */
	peerHasOurChanges(state) {
		return this.A.hasOurChanges(this.doc, state);
	}

	/** The heads of a complete document's bytes, or null if they do not load alone. */
	headsOf(bytes) {
		try {
			const doc = this.A.load(bytes);
			const heads = this.A.getHeads(doc);
			this.A.free(doc);
			return heads;
		} catch {
			return null;
		}
	}

	/** The actor id this tab's changes are made with. */
	actorId() {
		return this.A.getActorId(this.doc);
	}

	/** The document's heads (hex change hashes). */
	heads() {
		return [...this.currentHeads];
	}

	/** The whole document as `Automerge.save()` bytes. */
	save() {
		return this.A.save(this.doc);
	}

	/** The changes not covered by `heads` (heads this document lacks are ignored). */
	saveSince(heads) {
		return this.A.saveSince(this.doc, this.knownHeads(heads));
	}

	/** True if the document holds changes that `heads` (and their history) do not. */
	hasChangesSince(heads) {
		return this.A.getChangesMetaSince(this.doc, this.knownHeads(heads)).length > 0;
	}

	/** True if the document holds every change in `heads`. */
	hasHeads(heads) {
		return this.A.hasHeads(this.doc, heads);
	}

	/** The subset of `heads` this document holds. */
	knownHeads(heads) {
		return heads.filter((head) => this.A.hasHeads(this.doc, [head]));
	}

	/** Hashes of changes the document was given but cannot apply yet (missing deps). */
	missingDeps() {
		return this.A.getMissingDeps(this.doc, []);
	}

	/** This document's stored metadata value `key`. */
	getMeta(key) {
		return this.meta[key];
	}

	/** Call `listener(values)` when another tab sets metadata values. */
	onMeta(listener) {
		this.metaListeners.add(listener);
		return () => this.metaListeners.delete(listener);
	}

	/** Store metadata values (`{key: value}`) beside the document; tell the other tabs. */
	setMeta(values) {
		this.meta = { ...this.meta, ...values };
		const meta = this.meta;
		if (this.channel) {
			this.channel.postMessage({ type: 'meta', values });
		}
		this.writes = this.writes
			.then(() => this.storage.putMeta(this.docId, meta))
			.catch((error) => console.warn('Could not store list metadata:', error));
		return this.writes;
	}

	/** Resolves when everything updated so far is in storage. */
	whenPersisted() {
		return this.writes.then(() => this.compacting);
	}

	/** Replace the stored chunks with one `Automerge.save()` of everything in them. */
	compact() {
		if (!this.compacting) {
			this.compacting = this.writes
				.then(() =>
					this.storage.compact(this.docId, (chunks) => {
						const merged = this._loadChunks(this.A.clone(this.doc), chunks);
						const bytes = this.A.save(merged);
						this.A.free(merged);
						return bytes;
					})
				)
				.then(() => {
					this.chunkCount = 1;
				})
				.catch((error) => console.warn('Could not compact the stored list:', error))
				.finally(() => {
					this.compacting = null;
				});
		}
		return this.compacting;
	}

	/**
	 * Store the whole document, as one save, under the id `docId` too (the list
	 * moved there): everything this device holds goes with it, unsynced edits
	 * included. Resolves once it is stored.
	 */
	async copyTo(docId) {
		await this.whenPersisted();
		await this.storage.appendChunk(docId, this.save());
	}

	/** Stop listening to other tabs. */
	close() {
		if (this.channel) {
			this.channel.onmessage = null;
			this.channel.close();
			this.channel = null;
		}
	}

	_update(next, origin, patches = undefined) {
		if (next === this.doc) {
			return false;
		}
		const before = this.currentHeads;
		this.doc = next;
		this.currentHeads = this.A.getHeads(next);
		if (sameHeads(before, this.currentHeads)) {
			return false;
		}
		const bytes = this.A.saveSince(next, before);
		this._persist(bytes);
		if (this.channel && origin !== 'tab') {
			this.channel.postMessage({ type: 'changes', bytes });
		}
		for (const listener of this.listeners) {
			listener({ origin, patches });
		}
		return true;
	}

	// The heads of the changes added since `before`: whoever sent them holds
	// those changes and everything they depend on. Costs what was added.
	_addedHeads(before) {
		const added = this.A.getChangesMetaSince(this.doc, before);
		const depended = new Set(added.flatMap((change) => change.deps));
		return added.map((change) => change.hash).filter((hash) => !depended.has(hash));
	}

	_persist(bytes) {
		this.writes = this.writes
			.then(() => this.storage.appendChunk(this.docId, bytes))
			.catch((error) => console.warn('Could not store a change on this device:', error));
		this.chunkCount += 1;
		if (this.chunkCount > this.compactAfter) {
			this.compact();
		}
	}

	_receive(message) {
		if (!message || typeof message !== 'object') {
			return;
		}
		if (message.type === 'changes') {
			this.merge(message.bytes, 'tab');
			if (this.missingDeps().length > 0) {
				this._hello(false);
			}
		} else if (message.type === 'meta' && message.values) {
			// Stored by the tab that sent it; this tab only takes note.
			this.meta = { ...this.meta, ...message.values };
			for (const listener of this.metaListeners) {
				listener(message.values);
			}
		} else if (message.type === 'hello' && Array.isArray(message.heads)) {
			if (this.hasChangesSince(message.heads)) {
				this.channel.postMessage({ type: 'changes', bytes: this.saveSince(message.heads) });
			}
			if (!message.reply && !this.hasHeads(message.heads)) {
				this._hello(true);
			}
		}
	}

	_hello(reply) {
		this.channel.postMessage({ type: 'hello', heads: this.heads(), reply });
	}

	// Load stored chunks; if their concatenation fails (a damaged record), load
	// them one by one and skip what cannot be read.
	_loadChunks(doc, chunks) {
		if (chunks.length === 0) {
			return doc;
		}
		try {
			return this.A.loadIncremental(doc, concat(chunks));
		} catch (error) {
			console.warn('A stored chunk could not be read; loading the others:', error);
		}
		for (const chunk of chunks) {
			try {
				doc = this.A.loadIncremental(doc, chunk);
			} catch (error) {
				console.warn(`Skipped a stored chunk of ${chunk.length} bytes:`, error);
			}
		}
		return doc;
	}
}

/** True if two head lists hold the same hashes. */
export function sameHeads(a, b) {
	return a.length === b.length && a.every((head) => b.includes(head));
}

/** The concatenation of byte arrays. */
export function concat(parts) {
	const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
	let offset = 0;
	for (const part of parts) {
		out.set(part, offset);
		offset += part.length;
	}
	return out;
}
