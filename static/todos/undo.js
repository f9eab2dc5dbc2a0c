/**
 * Undo and redo of this tab's own edits, as new changes that keep everyone else's.
 *
 * When this tab makes an edit, the list just before it and just after it are
 * compared item by item (items are named by their Automerge object id), and
 * what the edit altered is recorded: the items it added, the items it deleted
 * (with their text, done and place), the done it flipped, and, for text it
 * replaced (an item's or the title), the old text and Automerge cursors at
 * the ends of the replaced part. Both versions are at hand then, so nothing
 * is read from history later. Undoing makes a new change against the current
 * document that puts back only what the edit altered:
 *
 * - an item it added is deleted; an item it deleted is made again, with the
 *   text and done it had, after the nearest item that preceded it;
 * - a done it flipped is flipped back, unless someone has changed it since;
 * - replaced text is spliced back between the cursors' current positions, so
 *   what others typed elsewhere in the text since stays.
 *
 * Redo is the undo of an undo (recorded the same way). An item made again gets
 * a new object id; the old id is redirected to the new one, so older entries
 * still find it.
 *
 * `undoOperations(Automerge)` holds the document logic (pure, like doc.js);
 * `UndoHistory` holds one tab's stacks and applies the reverts through the
 * store. `undoShortcut(event)` names the key a person pressed.
 */

/** Own edits remembered for undo; older ones are forgotten. */
export const UNDO_LIMIT = 100;

/**
 * Bind the record and revert logic to an Automerge namespace.
 *
 * @param {object} Automerge The `@automerge/automerge` namespace (wasm ready).
 */
export function undoOperations(Automerge) {
	const A = Automerge;

	/** The list's title and items (`{id, index, text, done}`), to give `record` as "before". */
	function snapshot(doc) {
		const list = Array.isArray(doc.items) ? doc.items : [];
		const items = [];
		list.forEach((item, index) => {
			if (isItem(item)) {
				items.push({ id: A.getObjectId(item), index, text: textOf(item.text), done: item.done === true });
			}
		});
		return { title: textOf(doc.title), items };
	}

	/**
	 * What an edit altered: `was` is the snapshot just before it, `doc` the
	 * document just after it. Returns `{title, added, altered, removed, order}`.
	 */
	function record(was, doc) {
		const now = snapshot(doc);
		const wasById = new Map(was.items.map((item) => [item.id, item]));
		const nowIds = new Set(now.items.map((item) => item.id));
		const added = [];
		const altered = [];
		for (const item of now.items) {
			const old = wasById.get(item.id);
			if (!old) {
				added.push(item.id);
			} else if (old.text !== item.text || old.done !== item.done) {
				const text = textEdit(doc, ['items', item.index, 'text'], old.text);
				altered.push({ id: item.id, done: old.done !== item.done ? [old.done, item.done] : null, text });
			}
		}
		const removed = [];
		was.items.forEach(({ id, text, done }, position) => {
			if (!nowIds.has(id)) {
				removed.push({ id, text, done, position });
			}
		});
		return {
			title: textEdit(doc, ['title'], was.title),
			added,
			altered,
			removed,
			order: removed.length ? was.items.map((item) => item.id) : [],
		};
	}

	// How the text at `path` in `doc` differs from `wanted`, and where: the part
	// between the common prefix and suffix, marked by cursors. Null if the same.
	function textEdit(doc, path, wanted) {
		const edited = textOf(valueAt(doc, path));
		if (edited === wanted) {
			return null;
		}
		if (!isText(doc, path)) {
			return { wanted, plain: true };
		}
		const prefix = commonPrefix(edited, wanted);
		const suffix = commonSuffix(edited.slice(prefix), wanted.slice(prefix));
		const cursorAt = (index) => (index < edited.length ? A.getCursor(doc, path, index) : null);
		return {
			wanted,
			edited,
			prefix,
			suffix,
			insert: wanted.slice(prefix, wanted.length - suffix),
			textId: A.getObjectId(parentOf(doc, path), path[path.length - 1]),
			start: cursorAt(prefix),
			end: cursorAt(edited.length - suffix),
			last: edited.length > 0 ? A.getCursor(doc, path, edited.length - 1) : null,
		};
	}

	/**
	 * Revert a recorded edit as a new change to `doc`.
	 *
	 * `redirects` maps ids of items that were deleted and made again to their
	 * new ids. Returns `{doc, redirects}`: the new document (the same one if
	 * there was nothing left to revert) and the redirects including the items
	 * this revert made again.
	 */
	function revert(doc, edit, redirects = new Map()) {
		const moved = new Map(redirects);
		// The current list's item ids by index, kept in step with every splice
		// below: looking items up here is far cheaper than through the proxy.
		const ids = (Array.isArray(doc.items) ? doc.items : []).map((item) => (isItem(item) ? A.getObjectId(item) : null));
		const next = A.change(doc, (d) => {
			if (edit.title) {
				restoreText(d, ['title'], edit.title);
			}
			for (const id of edit.added) {
				const index = ids.indexOf(resolve(moved, id));
				if (index >= 0) {
					d.items.splice(index, 1);
					ids.splice(index, 1);
				}
			}
			for (const item of edit.altered) {
				const index = ids.indexOf(resolve(moved, item.id));
				if (index >= 0) {
					restoreItem(d, index, item);
				} // else deleted by someone since: nothing to put back
			}
			for (const item of edit.removed) {
				moved.set(item.id, remakeItem(d, ids, item, edit.order, moved));
			}
		});
		return { doc: next, redirects: moved };
	}

	// Put back the done and the text the edit changed.
	function restoreItem(d, index, { done, text }) {
		if (done && d.items[index].done === done[1]) {
			d.items[index].done = done[0];
		}
		if (text) {
			restoreText(d, ['items', index, 'text'], text);
		}
	}

	// Make the text at `path` read what it did before the edit, where the edit changed it.
	function restoreText(d, path, edit) {
		const parent = parentOf(d, path);
		const key = path[path.length - 1];
		if (parent == null || typeof parent[key] !== 'string') {
			return; // gone since
		}
		const textId = A.getObjectId(parent, key);
		if (edit.plain || textId === null) {
			parent[key] = edit.wanted; // a plain string, not collaborative text: set outright
		} else if (textId !== edit.textId) {
			restoreByOffsets(d, path, edit);
		} else {
			const start = edit.start ? A.getCursorPosition(d, path, edit.start) : afterLast(d, path, edit.last);
			const end = edit.end ? A.getCursorPosition(d, path, edit.end) : afterLast(d, path, edit.last);
			A.splice(d, path, start, Math.max(0, end - start), edit.insert);
		}
	}

	// Just after the edited text's last character (`cursor`), deleted or not, so
	// that text others appended since is left out.
	function afterLast(d, path, cursor) {
		if (!cursor) {
			return 0;
		}
		const position = A.getCursorPosition(d, path, cursor);
		const present = position < valueAt(d, path).length && A.getCursor(d, path, position) === cursor;
		return present ? position + 1 : position;
	}

	// The item was made again since (a new text object), so the edit's cursors
	// do not apply: count from the ends of the text, or replace it if they moved.
	function restoreByOffsets(d, path, { edited, prefix, suffix, insert, wanted }) {
		const current = valueAt(d, path);
		const fits = current.length >= prefix + suffix && current.startsWith(edited.slice(0, prefix)) && current.endsWith(edited.slice(edited.length - suffix));
		if (fits) {
			A.splice(d, path, prefix, current.length - suffix - prefix, insert);
		} else {
			A.updateText(d, path, wanted);
		}
	}

	// Insert a copy of a deleted item after the nearest item before it (in
	// `order`, the list as it was) there still; returns the new item's id.
	function remakeItem(d, ids, { text, done, position }, order, moved) {
		if (!Array.isArray(d.items)) {
			d.items = [];
		}
		let index = 0;
		for (let previous = position - 1; previous >= 0; previous -= 1) {
			const found = ids.indexOf(resolve(moved, order[previous]));
			if (found >= 0) {
				index = found + 1;
				break;
			}
		}
		d.items.splice(index, 0, { text, done });
		const id = A.getObjectId(d.items[index]);
		ids.splice(index, 0, id);
		return id;
	}

	function isText(doc, path) {
		const parent = parentOf(doc, path);
		return parent != null && A.getObjectId(parent, path[path.length - 1]) !== null;
	}

	return { snapshot, record, revert };
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

function isItem(value) {
	return value !== null && typeof value === 'object';
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
	 * @param {object} options.operations `undoOperations(Automerge)`.
	 * @param {number} [options.limit] See UNDO_LIMIT.
	 */
	constructor({ store, operations, limit = UNDO_LIMIT }) {
		this.store = store;
		this.operations = operations;
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
				const { doc: next, redirects } = this.operations.revert(doc, edit, this.redirects);
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

	// Make a change through the store and record what it altered, from the
	// document it was made on and the one it made.
	_apply(mutate) {
		const was = this.operations.snapshot(this.store.doc);
		let made = null;
		const changed = this.store.change((doc) => {
			made = mutate(doc);
			return made;
		});
		return changed ? this.operations.record(was, made) : null;
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
