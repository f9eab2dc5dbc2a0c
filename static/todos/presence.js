/**
 * Presence: who else has this list open, and which items they are editing.
 *
 * The server (todos/presence/) tells a socket that speaks presence who else is
 * on the list: `{type: 'presence', others: [{id, editing}], timeout}`. This
 * module announces this tab, `{type: 'presence', editing: <item id> | null}`,
 * when the socket opens, when the item being edited changes, and as a
 * heartbeat a third of the server's timeout apart (the server counts a client
 * that falls silent as gone). Nothing of it touches the document.
 */

import { Timers } from './timers.js';

export const DEFAULT_TIMEOUT_S = 30;
const HEARTBEAT_SHARE = 3; // heartbeats per timeout
const MAX_OTHERS = 100; // the server sends no more; ignore a longer list

/** The others of a server frame, kept only where well formed. */
function othersOf(frame) {
	if (!Array.isArray(frame.others)) {
		return [];
	}
	return frame.others
		.slice(0, MAX_OTHERS)
		.filter((other) => other && typeof other.id === 'string')
		.map(({ id, editing }) => ({ id, editing: typeof editing === 'string' ? editing : null }));
}

export class Presence {
	/**
	 * @param {object} options
	 * @param {function(object): boolean} options.send Sends a frame; false if the socket is not open.
	 * @param {Timers} [options.timers] The heartbeat's timer (tests pass their own).
	 */
	constructor({ send, timers = new Timers() }) {
		this.send = send;
		this.timers = timers;
		this.editing = null;
		this.others = [];
		this.heartbeatMs = (DEFAULT_TIMEOUT_S * 1000) / HEARTBEAT_SHARE;
		this.listeners = new Set();
	}

	/** Hear a socket event or a server frame (sync.js's `onPresence`). */
	received(event) {
		if (event.type === 'open') {
			this.announce();
		} else if (event.type === 'closed') {
			this.timers.clear('heartbeat');
			this.update([]);
		} else if (event.type === 'presence') {
			if (typeof event.timeout === 'number' && event.timeout > 0) {
				this.heartbeatMs = (event.timeout * 1000) / HEARTBEAT_SHARE;
				this.timers.set('heartbeat', this.heartbeatMs, () => this.announce());
			}
			this.update(othersOf(event));
		} else if (event.type === 'error' && event.status === 429) {
			this.timers.set('heartbeat', (event.retry_after || 1) * 1000, () => this.announce());
		}
	}

	/** Announce that this tab now edits item `id` (null: none). */
	setEditing(id) {
		if (id !== this.editing) {
			this.editing = id;
			this.announce();
		}
	}

	/** Send this tab's presence now, and the next heartbeat after the interval. */
	announce() {
		if (this.send({ type: 'presence', editing: this.editing })) {
			this.timers.set('heartbeat', this.heartbeatMs, () => this.announce());
		}
	}

	/** How many others have the list open. */
	count() {
		return this.others.length;
	}

	/** The ids of the items others are editing. */
	editedByOthers() {
		return new Set(this.others.map((other) => other.editing).filter(Boolean));
	}

	/** Call `listener({count, editing})` whenever who is here changes. */
	onChange(listener) {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	/** Stop the heartbeat. */
	stop() {
		this.timers.clearAll();
	}

	update(others) {
		this.others = others;
		const state = { count: this.count(), editing: this.editedByOthers() };
		for (const listener of this.listeners) {
			listener(state);
		}
	}
}

/** The words of the presence line: '' alone, '1 other here', 'n others here'. */
export function presenceText(count) {
	if (count === 0) {
		return '';
	}
	return count === 1 ? '1 other here' : `${count} others here`;
}
