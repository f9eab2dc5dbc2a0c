/**
 * Undo and redo of this tab's own edits, as new changes that keep everyone else's.
 *
 * An own edit is remembered by the document's heads just before and just after
 * it (`{before, after}`): the difference between the list as it was at
 * `before` and as it is at `after` is exactly that edit, whatever arrived
 * from elsewhere since. Undoing it compares those two versions item by item
 * (items are named by their Automerge object id) and makes a new change
 * against the current document that puts back only what the edit altered:
 *
 * - an item it added is deleted; an item it deleted is made again, with the
 *   text and done it had, after the item that preceded it;
 * - a done it flipped is flipped back, unless someone has changed it since;
 * - text it replaced (an item's or the title) is spliced back at positions
 *   found with Automerge cursors, so others' typing elsewhere in it stays.
 *
 * Redo is the undo of an undo. An item made again gets a new object id; the
 * old id is redirected to the new one, so older entries still find it.
 *
 * `undoOperations(Automerge)` holds the document logic (pure, like doc.js);
 * `UndoHistory` holds one tab's stacks and applies the reverts through the
 * store. `undoShortcut(event)` names the key a person pressed.
 */

/** Own edits remembered for undo; older ones are forgotten. */
export const UNDO_LIMIT = 100;

/**
 * Bind the revert logic to an Automerge namespace.
 *
 * @param {object} Automerge The `@automerge/automerge` namespace (wasm ready).
 */
export function undoOperations(Automerge) {
	const A = Automerge;

	/**
	 * Revert the edit that took the document from heads `before` to `after`.
	 *
	 * `redirects` maps ids of items that were deleted and made again to their
	 * new ids. Returns `{doc, redirects}`: the new document (the same one if
	 * there was nothing left to revert) and the redirects including the items
	 * this revert made again.
	 */
	function revert(doc, { before, after }, redirects = new Map()) {
		const was = A.view(doc, before);
		const now = A.view(doc, after);
		const moved = new Map(redirects);
		const next = A.change(doc, (d) => {
			restoreText(d, textOf(was.title), now, ['title'], ['title']);
			const wasItems = itemsOf(was);
			const nowItems = itemsOf(now);
			const wasById = new Map(wasItems.map((item) => [item.id, item]));
			const nowIds = new Set(nowItems.map((item) => item.id));
			for (const item of nowItems) {
				const old = wasById.get(item.id);
				if (!old) {
					removeItem(d, resolve(moved, item.id));
				} else {
					restoreItem(d, old, item, now, resolve(moved, item.id));
				}
			}
			wasItems.forEach((item, index) => {
				if (!nowIds.has(item.id)) {
					moved.set(item.id, remakeItem(d, item, wasItems.slice(0, index), moved));
				}
			});
		});
		return { doc: next, redirects: moved };
	}

	// Put back the done and the text `old` had, where the edit made them `item`'s.
	function restoreItem(d, old, item, now, id) {
		const index = indexOf(d, id);
		if (index < 0) {
			return; // deleted by someone since: nothing to put back
		}
		if (old.done !== item.done && d.items[index].done === item.done) {
			d.items[index].done = old.done;
		}
		if (old.text !== item.text) {
			restoreText(d, old.text, now, ['items', item.index, 'text'], ['items', index, 'text']);
		}
	}

	/**
	 * Make the text at `path` read `wanted` where the edit changed it.
	 *
	 * The edit turned `wanted` into the text at `nowPath` in `now`; the part
	 * that differs (between the common prefix and suffix) is located in the
	 * current text with cursors, so text typed elsewhere since stays.
	 */
	function restoreText(d, wanted, now, nowPath, path) {
		const edited = textOf(valueAt(now, nowPath));
		const parent = parentOf(d, path);
		const key = path[path.length - 1];
		if (edited === wanted || parent == null || typeof parent[key] !== 'string') {
			return; // unchanged by the edit, or gone since
		}
		if (A.getObjectId(parent, key) === null || A.getObjectId(parentOf(now, nowPath), key) === null) {
			parent[key] = wanted; // a plain string, not collaborative text: set outright
			return;
		}
		const prefix = commonPrefix(edited, wanted);
		const suffix = commonSuffix(edited.slice(prefix), wanted.slice(prefix));
		const insert = wanted.slice(prefix, wanted.length - suffix);
		if (A.getObjectId(parent, key) !== A.getObjectId(parentOf(now, nowPath), key)) {
			// Made again since (a new text object), so the edit's cursors do not
			// apply: count from the ends of the text, or replace it if they moved.
			const current = parent[key];
			const fits = current.startsWith(edited.slice(0, prefix)) && current.endsWith(edited.slice(edited.length - suffix));
			if (!fits || current.length < prefix + suffix) {
				A.updateText(d, path, wanted);
			} else {
				A.splice(d, path, prefix, current.length - suffix - prefix, insert);
			}
			return;
		}
		const start = positionBefore(d, now, nowPath, path, prefix, edited.length);
		const end = positionBefore(d, now, nowPath, path, edited.length - suffix, edited.length);
		A.splice(d, path, start, Math.max(0, end - start), insert);
	}

	// Where, in the current text, the character at `index` of the edited text is
	// (or would be, were it deleted). The end of the edited text is just after
	// its last character, so that text others appended since is not included.
	function positionBefore(d, now, nowPath, path, index, length) {
		if (index < length) {
			return A.getCursorPosition(d, path, A.getCursor(now, nowPath, index));
		}
		if (length === 0) {
			return 0;
		}
		const cursor = A.getCursor(now, nowPath, length - 1);
		const position = A.getCursorPosition(d, path, cursor);
		const present = position < textOf(valueAt(d, path)).length && A.getCursor(d, path, position) === cursor;
		return present ? position + 1 : position;
	}

	function removeItem(d, id) {
		const index = indexOf(d, id);
		if (index >= 0) {
			d.items.splice(index, 1);
		}
	}

	// Insert a copy of `item` after the nearest of its predecessors still there;
	// returns the new item's id.
	function remakeItem(d, item, predecessors, moved) {
		if (!Array.isArray(d.items)) {
			d.items = [];
		}
		let index = 0;
		for (const previous of [...predecessors].reverse()) {
			const found = indexOf(d, resolve(moved, previous.id));
			if (found >= 0) {
				index = found + 1;
				break;
			}
		}
		d.items.splice(index, 0, { text: item.text, done: item.done });
		return A.getObjectId(d.items[index]);
	}

	function itemsOf(doc) {
		const list = Array.isArray(doc.items) ? doc.items : [];
		return list
			.map((item, index) => ({ item, index }))
			.filter(({ item }) => item !== null && typeof item === 'object')
			.map(({ item, index }) => ({ id: A.getObjectId(item), index, text: textOf(item.text), done: item.done === true }));
	}

	function indexOf(d, id) {
		const list = Array.isArray(d.items) ? d.items : [];
		return list.findIndex((item) => item !== null && typeof item === 'object' && A.getObjectId(item) === id);
	}

	return { revert };
}

/** Follow `redirects` from an item's first id to its current one. */
function resolve(redirects, id) {
	const seen = new Set();
	while (redirects.has(id) && !seen.has(id)) {
		seen.add(id);
		id = redirects.get(id);
	}
	return id;
}

function textOf(value) {
	return typeof value === 'string' ? value : '';
}

function valueAt(doc, path) {
	return path.reduce((object, key) => (object == null ? undefined : object[key]), doc);
}

function parentOf(doc, path) {
	return valueAt(doc, path.slice(0, -1));
}

// Common ends are counted in UTF-16 units (Automerge's text indexes in
// JavaScript) and never split a surrogate pair.
function commonPrefix(a, b) {
	let length = 0;
	while (length < a.length && length < b.length && a[length] === b[length]) {
		length += 1;
	}
	return length > 0 && isHighSurrogate(a.charCodeAt(length - 1)) ? length - 1 : length;
}

function commonSuffix(a, b) {
	let length = 0;
	while (length < a.length && length < b.length && a[a.length - 1 - length] === b[b.length - 1 - length]) {
		length += 1;
	}
	return length > 0 && isLowSurrogate(a.charCodeAt(a.length - length)) ? length - 1 : length;
}

function isHighSurrogate(code) {
	return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code) {
	return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * One tab's undo and redo stacks over a store.
 *
 * Own edits go through `change(mutate)`; `undo()` and `redo()` revert the
 * newest entry of their stack as a new change. Changes from elsewhere leave
 * both stacks alone; a new own edit empties the redo stack.
 */
export class UndoHistory {
	/**
	 * @param {object} options
	 * @param {Store} options.store The document's store.
	 * @param {function} options.revert `undoOperations(Automerge).revert`.
	 * @param {number} [options.limit] See UNDO_LIMIT.
	 */
	constructor({ store, revert, limit = UNDO_LIMIT }) {
		this.store = store;
		this.revert = revert;
		this.limit = limit;
		this.undoStack = [];
		this.redoStack = [];
		this.redirects = new Map();
		this.listeners = new Set();
	}

	/** Call `listener({canUndo, canRedo})` when either changes; returns the unsubscribe function. */
	subscribe(listener) {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	/** Make an own edit, `mutate(doc)` (see doc.js), and remember it; true if it changed anything. */
	change(mutate) {
		const entry = this._apply(mutate);
		if (entry) {
			this._push(this.undoStack, entry);
			this.redoStack = [];
			this._tell();
		}
		return Boolean(entry);
	}

	/** Revert the newest own edit still standing; true if it changed anything. */
	undo() {
		return this._revertFrom(this.undoStack, this.redoStack);
	}

	/** Revert the newest undo; true if it changed anything. */
	redo() {
		return this._revertFrom(this.redoStack, this.undoStack);
	}

	/** Whether there is an own edit to undo and an undo to redo. */
	state() {
		return { canUndo: this.undoStack.length > 0, canRedo: this.redoStack.length > 0 };
	}

	// Entries that others have made void (they deleted the item we toggled) are
	// dropped, and the next one is tried, so one press always does something.
	_revertFrom(from, to) {
		let entry = null;
		while (!entry && from.length > 0) {
			const edit = from.pop();
			entry = this._apply((doc) => {
				const { doc: next, redirects } = this.revert(doc, edit, this.redirects);
				this.redirects = redirects;
				return next;
			});
		}
		if (entry) {
			this._push(to, entry);
		}
		this._tell();
		return Boolean(entry);
	}

	_apply(mutate) {
		const before = this.store.heads();
		if (!this.store.change(mutate)) {
			return null;
		}
		return { before, after: this.store.heads() };
	}

	_push(stack, entry) {
		stack.push(entry);
		if (stack.length > this.limit) {
			stack.shift();
		}
	}

	_tell() {
		const state = this.state();
		for (const listener of this.listeners) {
			listener(state);
		}
	}
}

/**
 * What a key press asks of undo: 'undo' (Ctrl/Cmd+Z), 'redo' (Ctrl/Cmd+Shift+Z
 * or Ctrl+Y) or null.
 *
 * @param {{key, code, ctrlKey, metaKey, shiftKey, altKey}} event A keydown event.
 */
export function undoShortcut({ key, code, ctrlKey, metaKey, shiftKey, altKey }) {
	if (!(ctrlKey || metaKey) || altKey) {
		return null;
	}
	const letter = /^[a-z]$/i.test(key || '') ? key.toLowerCase() : { KeyZ: 'z', KeyY: 'y' }[code];
	if (letter === 'z') {
		return shiftKey ? 'redo' : 'undo';
	}
	if (letter === 'y' && ctrlKey && !metaKey && !shiftKey) {
		return 'redo';
	}
	return null;
}
