/**
 * The list's items as plain objects, kept up to date from Automerge patches, so
 * that rendering after a push costs what the push changed, not the whole list.
 *
 * `items()` returns the items `{id, text, done}` in list order. After an update
 * that came with its patches (store.js passes those of `loadIncremental` and
 * `receiveSyncMessage`), only the items the patches touch are read from the
 * document again; an item that did not change keeps its object, so the view can
 * skip it by identity. Without patches (a local change), or with patches this
 * does not follow, the whole list is read again (`todos.items`).
 *
 * `changes()` says how the last patched update got from the previous items to
 * the current ones (see `Changes`), and `counts()` is kept by those changes, so
 * neither walks the list.
 */

/**
 * How one update changed the items.
 *
 * @typedef {object} Changes
 * @property {Array<{id, text, done}>} from The items before the update.
 * @property {Array<{index: number, remove: number, insert: number}>} splices
 *   Applied in order to `from`, like `Array.prototype.splice`, they give the
 *   current items' places (inserted places still to be filled).
 * @property {number[]} touched The indices in the current items that are new or
 *   were changed, in no particular order.
 */

// Inserts of more items than this (a first sync, a paste) read the whole list again.
const MAX_PATCHED_INSERT = 1000;

export class ItemList {
	/**
	 * @param {object} options
	 * @param {Store} options.store The document's store.
	 * @param {object} options.todos The document operations (doc.js).
	 */
	constructor({ store, todos }) {
		this.store = store;
		this.todos = todos;
		this.list = null;
		this.doc = null;
		this.completed = 0;
		this.lastChanges = null;
	}

	/** Take an update's patches (undefined if unknown): the items they touch are read again. */
	updated(patches) {
		this.lastChanges = null;
		if (this.list && this.doc !== this.store.doc) {
			const from = this.list;
			this.list = patches ? this.patched(patches) : null;
			if (this.list) {
				this.lastChanges.from = from;
			}
		}
	}

	/** The items `{id, text, done}` of the current document, in list order. */
	items() {
		const doc = this.store.doc;
		if (!this.list || this.doc !== doc) {
			this.lastChanges = null;
			this.list = this.todos.items(doc);
			this.completed = this.list.filter((item) => item.done).length;
			// Patches name places in `doc.items`; they are ours only if every entry is an item.
			if (!Array.isArray(doc.items) || this.list.length !== doc.items.length) {
				this.doc = null;
				return this.list;
			}
			this.doc = doc;
		}
		return this.list;
	}

	/** How the last update changed the items (a `Changes`), or null if they were read again. */
	changes() {
		return this.list && this.doc === this.store.doc ? this.lastChanges : null;
	}

	/** The counts `{total, active, completed}` of the current items. */
	counts() {
		const total = this.items().length;
		return { total, active: total - this.completed, completed: this.completed };
	}

	// The cached items with the patches applied (recording `lastChanges` and
	// keeping `completed`), or null to read everything again.
	patched(patches) {
		const list = this.list.slice();
		const splices = [];
		let touched = [];
		let completed = this.completed;
		const drop = (index, count) => {
			for (const item of list.splice(index, count)) {
				completed -= item && item.done ? 1 : 0;
			}
		};
		for (const { action, path, values, length } of patches) {
			if (path[0] !== 'items') {
				continue; // the title, or anything else that is not an item
			}
			const index = path[1];
			if (path.length === 1 || typeof index !== 'number') {
				return null; // the list itself was replaced
			}
			if (action === 'insert' && values.length > MAX_PATCHED_INSERT) {
				return null; // as cheap to read it all, and no huge spread into splice()
			}
			if (path.length === 2 && (action === 'insert' || action === 'del')) {
				const splice = { index, remove: action === 'del' ? length || 1 : 0, insert: action === 'insert' ? values.length : 0 };
				touched = shifted(touched, splice);
				drop(index, splice.remove);
				list.splice(index, 0, ...new Array(splice.insert).fill(null));
				splices.push(splice);
				for (let at = index; at < index + splice.insert; at += 1) {
					touched.push(at);
				}
			} else if (list[index] !== null) {
				// A field of an item, or the item replaced: read it again.
				drop(index, 1);
				list.splice(index, 0, null);
				touched.push(index);
			}
		}
		const doc = this.store.doc;
		const entries = doc.items;
		if (!Array.isArray(entries) || entries.length !== list.length) {
			return null;
		}
		for (const index of touched) {
			const item = this.todos.itemAt(doc, index);
			if (!item) {
				return null;
			}
			list[index] = item;
			completed += item.done ? 1 : 0;
		}
		this.doc = doc;
		this.completed = completed;
		this.lastChanges = { from: null, splices, touched };
		return list;
	}
}

// `indices` (places in a list) moved as `splice` moves them; those it removes are left out.
function shifted(indices, { index, remove, insert }) {
	const moved = [];
	for (const at of indices) {
		if (at < index) {
			moved.push(at);
		} else if (at >= index + remove) {
			moved.push(at + insert - remove);
		}
	}
	return moved;
}
