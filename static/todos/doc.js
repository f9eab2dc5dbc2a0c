/**
 * Pure operations on a todo list document, `{ title, items: [{ text, done }] }`.
 *
 * The module never imports Automerge: `todoDocument(Automerge)` receives the
 * namespace, so the browser passes the slim entry (after `initializeWasm`) and
 * Node tests pass the package's Node entry, and both run this same code.
 *
 * Items are named by their Automerge object id (`Automerge.getObjectId`), which
 * stays the same while concurrent inserts and deletes move the item's index.
 * Every operation returns the new document (or the same one if nothing changed).
 */

/** The fixed actor of the genesis change that every replica starts from. */
const GENESIS_ACTOR = '746f646f732d67656e65736973'; // "todos-genesis"
const GENESIS_TIME = 0;

/**
 * Bind the document operations to an Automerge namespace.
 *
 * @param {object} Automerge The `@automerge/automerge` namespace (wasm ready).
 */
export function todoDocument(Automerge) {
	const A = Automerge;

	// Every device creates the list's root fields in the SAME change (same actor,
	// time and operations, so the same hash). Two devices that start one list
	// offline then share `items` instead of each creating its own list, of which
	// a merge would keep only one as the winner of a conflict.
	const genesisBytes = A.save(
		A.change(A.init({ actor: GENESIS_ACTOR }), { time: GENESIS_TIME }, (d) => {
			d.title = '';
			d.items = [];
		})
	);
	const genesisHeads = A.getHeads(A.load(genesisBytes));

	/** A new, empty list with a random actor, built on the shared genesis change. */
	function create() {
		return A.load(genesisBytes);
	}

	/** The heads of the genesis change: a list at these heads holds no edits. */
	function initialHeads() {
		return [...genesisHeads];
	}

	/** The list's title ('' if it has none). */
	function title(doc) {
		return typeof doc.title === 'string' ? doc.title : '';
	}

	/** The items as plain objects `{ id, text, done }`, in list order. */
	function items(doc) {
		const list = Array.isArray(doc.items) ? doc.items : [];
		return list.filter((item) => item !== null && typeof item === 'object').map(plainItem);
	}

	/** The entry at `index` of the list as `{ id, text, done }`, or null if it is not an item. */
	function itemAt(doc, index) {
		const item = Array.isArray(doc.items) ? doc.items[index] : null;
		return item !== null && typeof item === 'object' ? plainItem(item) : null;
	}

	function plainItem(item) {
		return {
			id: A.getObjectId(item),
			text: typeof item.text === 'string' ? item.text : '',
			done: item.done === true,
		};
	}

	/**
	 * What the lists menu shows of a list: `{ edited, title, firstItem, changedAt }`.
	 *
	 * `edited` is false while the list holds only the genesis change (nobody has
	 * typed anything), `changedAt` is the time of its latest change (ms; the
	 * newest of its heads, each stamped by the device that made it), or null.
	 * `list`: the document's items, if the caller has them already.
	 */
	function summary(doc, list = null) {
		const heads = A.getHeads(doc);
		const edited = !(heads.length === genesisHeads.length && heads.every((head) => genesisHeads.includes(head)));
		const seconds = Math.max(0, ...heads.map((head) => A.inspectChange(doc, head)?.time || 0));
		const [first] = list || items(doc);
		return {
			edited,
			title: title(doc),
			firstItem: first ? first.text : '',
			changedAt: edited && seconds > 0 ? seconds * 1000 : null,
		};
	}

	/** Counts of all, active (not done) and completed items (of `list`, if given). */
	function counts(doc, list = null) {
		const all = list || items(doc);
		const completed = all.filter((item) => item.done).length;
		return { total: all.length, active: all.length - completed, completed };
	}

	/** Append an item with the trimmed `text`; nothing is added for blank text. */
	function addItem(doc, text) {
		return insertItem(doc, Infinity, { text });
	}

	/**
	 * Insert an item `{text, done}` at `index` (kept within the list); blank text adds nothing.
	 *
	 * The History panel restores a deleted item with it: a new item, made by a
	 * new change, so it syncs and merges like any other.
	 */
	function insertItem(doc, index, { text, done = false }) {
		const trimmed = String(text).trim();
		if (!trimmed) {
			return doc;
		}
		return A.change(doc, (d) => {
			if (!Array.isArray(d.items)) {
				d.items = [];
			}
			const at = Math.max(0, Math.min(index, d.items.length));
			d.items.insertAt(at, { text: trimmed, done: done === true });
		});
	}

	/** Mark item `id` done or not done. */
	function setDone(doc, id, done) {
		return changeItem(doc, id, (item) => {
			if (item.done !== done) {
				item.done = done;
			}
		});
	}

	/** Mark every item done or not done (the "mark all" checkbox). */
	function setAllDone(doc, done) {
		if (items(doc).every((item) => item.done === done)) {
			return doc;
		}
		return A.change(doc, (d) => {
			for (const item of d.items) {
				if (item.done !== done) {
					item.done = done;
				}
			}
		});
	}

	/**
	 * Replace item `id`'s text with the trimmed `text`; blank text deletes the item.
	 *
	 * With `baseHeads` (the heads when editing began) the edit is made as a diff
	 * against the text the person saw (`Automerge.changeAt`), so edits others
	 * made to the same text meanwhile are kept alongside this one.
	 */
	function editText(doc, id, text, baseHeads) {
		const trimmed = String(text).trim();
		if (!trimmed) {
			return removeItem(doc, id);
		}
		return changeFrom(doc, baseHeads, (d) => {
			const index = indexOf(d, id);
			if (index >= 0 && d.items[index].text !== trimmed) {
				updateTextAt(d, ['items', index, 'text'], trimmed);
			}
		});
	}

	/** Delete item `id`. */
	function removeItem(doc, id) {
		if (indexOf(doc, id) < 0) {
			return doc;
		}
		return A.change(doc, (d) => {
			const index = indexOf(d, id);
			if (index >= 0) {
				d.items.splice(index, 1);
			}
		});
	}

	/** Delete every completed item. */
	function clearCompleted(doc) {
		if (counts(doc).completed === 0) {
			return doc;
		}
		return A.change(doc, (d) => {
			for (let index = d.items.length - 1; index >= 0; index -= 1) {
				if (d.items[index].done === true) {
					d.items.splice(index, 1);
				}
			}
		});
	}

	/** Set the list's title to the trimmed `text` (collaborative, like editText). */
	function setTitle(doc, text, baseHeads) {
		const trimmed = String(text).trim();
		return changeFrom(doc, baseHeads, (d) => {
			if (d.title !== trimmed) {
				updateTextAt(d, ['title'], trimmed);
			}
		});
	}

	function changeItem(doc, id, update) {
		if (indexOf(doc, id) < 0) {
			return doc;
		}
		return A.change(doc, (d) => {
			const index = indexOf(d, id);
			if (index >= 0) {
				update(d.items[index]);
			}
		});
	}

	function indexOf(doc, id) {
		const list = Array.isArray(doc.items) ? doc.items : [];
		return list.findIndex((item) => item !== null && typeof item === 'object' && A.getObjectId(item) === id);
	}

	// A field that is a plain string (not collaborative text), or missing, is set
	// outright; text fields are spliced so concurrent edits merge.
	function updateTextAt(d, path, text) {
		const parent = path.slice(0, -1).reduce((object, key) => object[key], d);
		const key = path[path.length - 1];
		if (typeof parent[key] === 'string' && A.getObjectId(parent, key) !== null) {
			A.updateText(d, path, text);
		} else {
			parent[key] = text;
		}
	}

	function changeFrom(doc, baseHeads, callback) {
		if (baseHeads && baseHeads.length && A.hasHeads(doc, baseHeads)) {
			return A.changeAt(doc, baseHeads, callback).newDoc;
		}
		return A.change(doc, callback);
	}

	return {
		create,
		initialHeads,
		title,
		items,
		summary,
		counts,
		addItem,
		itemAt,
		insertItem,
		setDone,
		setAllDone,
		editText,
		removeItem,
		clearCompleted,
		setTitle,
	};
}
