/**
 * One exchange of Automerge's sync protocol with the server over the tab socket.
 *
 * The socket is opened with `?sync=1` (connection.js), so the server sends no
 * stored document on connect: the tab starts an exchange instead, and the two
 * sides send sync messages until each holds what the other has. A tab that
 * already holds the list receives only the changes it lacks. The sync state
 * lives as long as the socket; a new socket starts a new exchange (so does the
 * server, after its channel layer reconnected).
 *
 * Only store.js touches the document: this module keeps the state and decides
 * what to send.
 */

/** First bytes of an Automerge sync message (v1, v2); Automerge chunks start with 0x85. */
export const SYNC_MESSAGE_TYPES = [0x42, 0x43];

/** True if binary frame `bytes` is a sync message, not a push of Automerge chunks. */
export function isSyncMessage(bytes) {
	return bytes.length > 0 && SYNC_MESSAGE_TYPES.includes(bytes[0]);
}

export class TabSync {
	/**
	 * @param {object} options
	 * @param {Store} options.store The document's store (store.js).
	 * @param {function(Uint8Array): boolean} options.send Sends a sync message; false if it could not.
	 * @param {string[]} [options.initialHeads] Heads every replica starts from (doc.js).
	 */
	constructor({ store, send, initialHeads = [] }) {
		this.store = store;
		this.initialHeads = initialHeads;
		this.send = send;
		this.state = null;
	}

	/** Start a new exchange: a fresh state, and our first message. */
	start() {
		this.state = this.store.initSyncState();
		this.sendNext();
	}

	/** Forget the exchange (the socket closed). */
	stop() {
		this.state = null;
	}

	/**
	 * Take a sync message from the server and answer it.
	 *
	 * Returns `{added, synced, done, moved}`: the heads of the changes it
	 * brought, whether the server now holds every change of ours, whether the
	 * exchange is over (synced, or there is nothing worth sending: the server
	 * has no such list and ours is still the empty one, which it need not
	 * store), and whether it moved the exchange on (it brought changes, or
	 * named other server heads than the last one did).
	 */
	receive(bytes) {
		if (!this.state) {
			this.state = this.store.initSyncState(); // the server started this exchange
		}
		const before = String(this.state.theirHeads);
		const { state, added } = this.store.receiveSyncMessage(this.state, bytes);
		this.state = state;
		const moved = added.length > 0 || String(this.state.theirHeads) !== before;
		if (this.nothingToGive()) {
			return { added, synced: false, done: true, moved };
		}
		this.sendNext();
		const synced = this.store.peerHasOurChanges(this.state);
		return { added, synced, done: synced, moved };
	}

	// The server holds no list and ours has nothing but the initial change.
	nothingToGive() {
		const theirs = this.state.theirHeads;
		return Array.isArray(theirs) && theirs.length === 0 && this.store.heads().every((head) => this.initialHeads.includes(head));
	}

	sendNext() {
		const [state, message] = this.store.generateSyncMessage(this.state);
		this.state = state;
		if (message) {
			this.send(message);
		}
	}
}
