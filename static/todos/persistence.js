/**
 * Where a browser keeps its documents: IndexedDB, or memory when there is none.
 *
 * A document is stored like on the server, as a set of Automerge chunks: every
 * update appends the bytes it added, and `compact` replaces the chunks with one
 * `Automerge.save()`. Appending never overwrites what another tab wrote, so two
 * tabs that write at once both keep their changes. Each document also has a
 * small metadata record (what the server is known to hold).
 *
 * Both classes have the same asynchronous interface:
 * `loadChunks(docId)`, `appendChunk(docId, bytes)`, `compact(docId, combine)`,
 * `getMeta(docId)`, `putMeta(docId, meta)`, `close()`; `openStorage()` opens
 * the one a page uses.
 */

const DB_NAME = 'todos';
const DB_VERSION = 1;
const CHUNKS = 'chunks';
const META = 'meta';
const BY_DOC = 'docId';

/** Documents in IndexedDB: chunks keyed by an increasing number, indexed by doc id. */
export class IndexedDBStorage {
	/**
	 * Open (creating or upgrading) the database.
	 *
	 * @param {IDBFactory} [indexedDB] The factory, `window.indexedDB` by default.
	 */
	static open(indexedDB = globalThis.indexedDB) {
		return new Promise((resolve, reject) => {
			if (!indexedDB) {
				reject(new Error('IndexedDB is not available in this browser.'));
				return;
			}
			const request = indexedDB.open(DB_NAME, DB_VERSION);
			request.onupgradeneeded = () => {
				const db = request.result;
				const chunks = db.createObjectStore(CHUNKS, { autoIncrement: true });
				chunks.createIndex(BY_DOC, 'docId');
				db.createObjectStore(META, { keyPath: 'docId' });
			};
			request.onsuccess = () => {
				const db = request.result;
				db.onversionchange = () => db.close(); // let a newer version of the app upgrade
				resolve(new IndexedDBStorage(db));
			};
			request.onerror = () => reject(request.error);
			request.onblocked = () => reject(new Error('IndexedDB is blocked by another open version.'));
		});
	}

	constructor(db) {
		this.db = db;
	}

	/** All stored chunks of `docId`, oldest first. */
	loadChunks(docId) {
		return this._run([CHUNKS], 'readonly', (tx, done) => {
			const request = tx.objectStore(CHUNKS).index(BY_DOC).getAll(docId);
			request.onsuccess = () => done(request.result.map((record) => toBytes(record.bytes)));
		});
	}

	/** Append one chunk (any Automerge bytes) to `docId`. */
	appendChunk(docId, bytes) {
		return this._run([CHUNKS], 'readwrite', (tx, done) => {
			tx.objectStore(CHUNKS).add({ docId, bytes });
			tx.oncomplete = () => done();
		});
	}

	/**
	 * Replace all of `docId`'s chunks with `combine(chunks)`, in one transaction.
	 *
	 * `combine` runs synchronously inside the transaction (Automerge is
	 * synchronous), so a chunk another tab appends meanwhile is either combined or
	 * kept, never lost.
	 */
	compact(docId, combine) {
		return this._run([CHUNKS], 'readwrite', (tx, done) => {
			const store = tx.objectStore(CHUNKS);
			const index = store.index(BY_DOC);
			const keysRequest = index.getAllKeys(docId);
			keysRequest.onsuccess = () => {
				const valuesRequest = index.getAll(docId);
				valuesRequest.onsuccess = () => {
					const bytes = combine(valuesRequest.result.map((record) => toBytes(record.bytes)));
					for (const key of keysRequest.result) {
						store.delete(key);
					}
					store.add({ docId, bytes });
				};
			};
			tx.oncomplete = () => done();
		});
	}

	/** The metadata record of `docId`, or `{}`. */
	getMeta(docId) {
		return this._run([META], 'readonly', (tx, done) => {
			const request = tx.objectStore(META).get(docId);
			request.onsuccess = () => done(request.result ? request.result.meta : {});
		});
	}

	/** Store the metadata record of `docId`. */
	putMeta(docId, meta) {
		return this._run([META], 'readwrite', (tx, done) => {
			tx.objectStore(META).put({ docId, meta });
			tx.oncomplete = () => done();
		});
	}

	/** Close the database connection. */
	close() {
		this.db.close();
	}

	_run(stores, mode, body) {
		return new Promise((resolve, reject) => {
			const tx = this.db.transaction(stores, mode);
			tx.onerror = () => reject(tx.error);
			tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted.'));
			body(tx, resolve);
		});
	}
}

/** Documents in memory: the fallback without IndexedDB, and the storage of tests. */
export class MemoryStorage {
	constructor() {
		this.chunks = new Map();
		this.meta = new Map();
	}

	async loadChunks(docId) {
		return [...(this.chunks.get(docId) || [])];
	}

	async appendChunk(docId, bytes) {
		this.chunks.set(docId, [...(this.chunks.get(docId) || []), bytes]);
	}

	async compact(docId, combine) {
		this.chunks.set(docId, [combine(await this.loadChunks(docId))]);
	}

	async getMeta(docId) {
		return { ...(this.meta.get(docId) || {}) };
	}

	async putMeta(docId, meta) {
		this.meta.set(docId, { ...meta });
	}

	close() {}
}

function toBytes(value) {
	return value instanceof Uint8Array ? value : new Uint8Array(value);
}

/** Open IndexedDB, or keep the list in memory for this tab if the browser refuses. */
export async function openStorage() {
	try {
		return await IndexedDBStorage.open();
	} catch (error) {
		console.warn('Keeping this list in memory only:', error);
		return new MemoryStorage();
	}
}
