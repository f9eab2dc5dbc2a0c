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
 */

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
	}

	/** Take an update's patches (undefined if unknown): the items they touch are read again. */
	updated(patches) {
		if (this.list && this.doc !== this.store.doc) {
			this.list = patches ? this.patched(patches) : null;
		}
	}

	/** The items `{id, text, done}` of the current document, in list order. */
	items() {
		const doc = this.store.doc;
		if (!this.list || this.doc !== doc) {
			this.list = this.todos.items(doc);
			// Patches name places in `doc.items`; they are ours only if every entry is an item.
			if (!Array.isArray(doc.items) || this.list.length !== doc.items.length) {
				this.doc = null;
				return this.list;
			}
			this.doc = doc;
		}
		return this.list;
	}

	// The cached items with the patches applied, or null to read everything again.
	patched(patches) {
		const list = this.list.slice();
		for (const { action, path, values, length } of patches) {
			if (path[0] !== 'items') {
				continue; // the title, or anything else that is not an item
			}
			if (path.length === 1 || typeof path[1] !== 'number') {
				return null; // the list itself was replaced
			}
			if (path.length > 2) {
				list[path[1]] = null; // a field of an item: read it again
			} else if (action === 'insert') {
				list.splice(path[1], 0, ...values.map(() => null));
			} else if (action === 'del') {
				list.splice(path[1], length || 1);
			} else {
				list[path[1]] = null; // the item was replaced
			}
		}
		const doc = this.store.doc;
		const entries = doc.items;
		if (!Array.isArray(entries) || entries.length !== list.length) {
			return null;
		}
		for (let index = 0; index < list.length; index += 1) {
			if (list[index] === null) {
				const item = this.todos.itemAt(doc, index);
				if (!item) {
					return null;
				}
				list[index] = item;
			}
		}
		this.doc = doc;
		return list;
	}
}
