/**
 * Named timeouts: setting one again replaces it, and all can be cleared at once.
 */

export class Timers {
	constructor() {
		this.handles = new Map();
	}

	/** Run `callback` after `delay` ms, replacing any timer of the same name. */
	set(name, delay, callback) {
		this.clear(name);
		this.handles.set(
			name,
			setTimeout(() => {
				this.handles.delete(name);
				callback();
			}, delay)
		);
	}

	/** True while timer `name` is waiting. */
	has(name) {
		return this.handles.has(name);
	}

	/** Cancel timer `name` if it is waiting. */
	clear(name) {
		if (this.handles.has(name)) {
			clearTimeout(this.handles.get(name));
			this.handles.delete(name);
		}
	}

	/** Cancel every timer. */
	clearAll() {
		for (const name of [...this.handles.keys()]) {
			this.clear(name);
		}
	}
}
