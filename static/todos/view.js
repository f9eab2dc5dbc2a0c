/**
 * The DOM: renders the list and reports what the person does through `bind*` hooks.
 *
 * The view knows nothing of Automerge or the network. Items are updated in place
 * by id (not re-rendered wholesale), so an item being edited keeps its input,
 * its caret and its focus while changes from other tabs and devices arrive.
 *
 * A read-only view (a list opened by its view-only link) has no edit controls:
 * the page leaves them out, items are rendered without toggles or delete
 * buttons, and nothing starts editing.
 */

import { delegate, qs } from './dom.js';
import { doneState, itemCounter, itemHTML } from './template.js';
import { undoShortcut } from './undo.js';

const ENTER_KEY = 'Enter';
const ESCAPE_KEY = 'Escape';
const EDIT_KEY = 'F2';
const UNDO_NOTE = { undo: ['Undone', 'Nothing left to undo'], redo: ['Redone', 'Nothing left to redo'] };
const OWN_UNDO_SKIPS = new Set(['checkbox', 'radio', 'button', 'submit', 'reset']);

function itemId(element) {
	return element.closest('li[data-id]').dataset.id;
}

export class View {
	/**
	 * @param {Document|Element} [root] Where the app's elements are.
	 * @param {object} [options]
	 * @param {boolean} [options.readOnly] Render without edit controls (a view-only link).
	 */
	constructor(root = document, { readOnly = false } = {}) {
		this.readOnly = readOnly;
		this.shown = new WeakMap(); // <li> -> the item object it shows
		this.$items = new Map(); // item id -> its <li>
		this.order = []; // the ids of the list's <li>s, in order
		this.$app = qs('.todoapp', root);
		this.$loading = qs('.loading', root);
		this.$title = qs('.list-title', root);
		this.$newTodo = qs('.new-todo', root);
		this.$main = qs('.main', root);
		this.$toggleAll = qs('.toggle-all', root);
		this.$todoList = qs('.todo-list', root);
		this.$footer = qs('.footer', root);
		this.$count = qs('.todo-count', root);
		this.$clearCompleted = qs('.clear-completed', root);
		this.$howItWorks = qs('.how-it-works-link', root);
		this.$undo = qs('.undo', root);
		this.$redo = qs('.redo', root);
		this.$undoNote = qs('.undo-note', root);
		this.editing = null;
		this.handlers = {};
		if (!readOnly) {
			this.bindStartEdit();
		}
	}

	/** Start editing an item on a double-click, or on Enter or F2 on its label. */
	bindStartEdit() {
		delegate(this.$todoList, 'li label', 'dblclick', ($label) => this.startEdit($label.closest('li')));
		delegate(this.$todoList, 'li label', 'keydown', ($label, event) => {
			if (event.key === ENTER_KEY || event.key === EDIT_KEY) {
				event.preventDefault();
				this.startEdit($label.closest('li'));
			}
		});
	}

	/** Show the app: the document is loaded and the controls work. */
	ready() {
		this.$app.removeAttribute('aria-busy');
		this.$app.classList.remove('is-loading');
		this.$loading.hidden = true;
		for (const $control of document.querySelectorAll('[data-wait]')) {
			$control.disabled = false;
		}
		this.$newTodo?.focus();
	}

	/** Say that the app could not start, and why. */
	showFailure(message) {
		this.$loading.textContent = message;
		this.$loading.classList.add('failed');
	}

	/**
	 * Render the document.
	 *
	 * @param {object} state
	 * @param {Array<{id, text, done}>} state.items The items to show (filtered).
	 * @param {object} [state.changes] How `items` differ from the last items shown
	 *   (items.js `Changes`), if known: then only those `<li>`s are touched.
	 * @param {{total, active, completed}} state.counts Counts over all items.
	 * @param {string} state.title The list's title.
	 * @param {string} state.route '', 'active' or 'completed'.
	 */
	render({ items, changes = null, counts, title, route }) {
		if (!(changes && this.showChanges(items, changes))) {
			this.showItems(items);
		}
		this.$main.hidden = counts.total === 0;
		this.$footer.hidden = counts.total === 0;
		if (!this.readOnly) {
			this.$toggleAll.checked = counts.total > 0 && counts.completed === counts.total;
			this.$clearCompleted.hidden = counts.completed === 0;
		}
		const counter = itemCounter(counts.active);
		if (counter !== this.counter) {
			this.counter = counter;
			this.$count.innerHTML = counter;
		}
		this.showRoute(route);
		if (document.activeElement !== this.$title) {
			this.$title.value = title;
		}
		document.title = `${title || 'Untitled list'} · todos`;
	}

	/**
	 * Make the list show `items`, in order, updating existing `<li>`s in place;
	 * an `<li>` last shown with the very same item object is left as it is
	 * (items.js keeps the objects of items that did not change).
	 */
	showItems(items) {
		const wanted = new Set(items.map((item) => item.id));
		for (const id of this.order) {
			if (!wanted.has(id)) {
				this.dropItem(id);
			}
		}
		// `order` is the ids of the <li>s in the list, in order: the DOM is
		// touched only where it differs from `items`.
		const order = this.order.filter((id) => wanted.has(id));
		items.forEach((item, index) => {
			let $li = this.$items.get(item.id);
			if (!$li) {
				$li = this.createItem(item);
				this.$items.set(item.id, $li);
			} else if (this.shown.get($li) !== item) {
				this.updateItem($li, item);
			}
			this.shown.set($li, item);
			if (order[index] !== item.id) {
				const at = order.indexOf(item.id, index);
				if (at !== -1) {
					order.splice(at, 1);
				}
				const $before = index < order.length ? this.$items.get(order[index]) : null;
				this.$todoList.insertBefore($li, $before);
				order.splice(index, 0, item.id);
			}
		});
		this.order = order;
	}

	/**
	 * Make the list show `items` by applying `changes` (items.js) to the `<li>`s
	 * last shown, in time proportional to the changes. False if an item is
	 * being edited (nothing touched) or the changes do not fit the `<li>`s
	 * (their order is read back from the page): then showItems does it.
	 */
	showChanges(items, { splices, touched }) {
		if (this.editing) {
			return false;
		}
		const order = this.order;
		for (const { index, remove, insert } of splices) {
			for (const id of order.splice(index, remove, ...new Array(insert).fill(null))) {
				if (id !== null) {
					this.dropItem(id);
				}
			}
		}
		// From the end, so that the <li> after a new one is already in place.
		for (const index of [...touched].sort((a, b) => b - a)) {
			const item = items[index];
			if (order[index] === item.id) {
				this.updateItem(this.$items.get(item.id), item);
			} else {
				if (order[index] !== null) {
					this.dropItem(order[index]);
				}
				if (this.$items.has(item.id)) {
					return this.resync(); // an item moved, which patches do not say: show it all
				}
				const $li = this.createItem(item);
				this.$items.set(item.id, $li);
				this.$todoList.insertBefore($li, this.$items.get(order[index + 1]) || null);
				order[index] = item.id;
			}
			this.shown.set(this.$items.get(item.id), item);
		}
		return true;
	}

	/** Take item `id`'s `<li>` out of the list (and out of edit mode). */
	dropItem(id) {
		if (this.editing && this.editing.id === id) {
			this.editing = null;
		}
		this.$items.get(id).remove();
		this.$items.delete(id);
	}

	// Read `order` and `$items` back from the list's <li>s; false (showItems must follow).
	resync() {
		this.order = [];
		this.$items.clear();
		for (const $li of this.$todoList.children) {
			this.order.push($li.dataset.id);
			this.$items.set($li.dataset.id, $li);
		}
		return false;
	}

	createItem(item) {
		const $template = document.createElement('template');
		$template.innerHTML = itemHTML(item, this.readOnly);
		return $template.content.firstElementChild;
	}

	updateItem($li, { text, done }) {
		$li.classList.toggle('completed', done);
		if (this.readOnly) {
			qs('.done-state', $li).textContent = doneState(done);
			qs('label', $li).textContent = text;
			return;
		}
		const $toggle = qs('.toggle', $li);
		$toggle.checked = done;
		const $label = qs('label', $li);
		if ($label.textContent !== text) {
			$label.textContent = text;
			$toggle.setAttribute('aria-label', `Completed: ${text}`);
			qs('.destroy', $li).setAttribute('aria-label', `Delete: ${text}`);
		}
	}

	/** The id of the item being edited, or null. */
	editingId() {
		return this.editing ? this.editing.id : null;
	}

	/** Put an item into edit mode: an input with its text, focused. */
	startEdit($li) {
		if (this.editing) {
			this.finishEdit(true);
		}
		const id = $li.dataset.id;
		const text = qs('label', $li).textContent;
		const $input = document.createElement('input');
		$input.className = 'edit';
		$input.value = text;
		$input.setAttribute('aria-label', `Edit: ${text}`);
		$li.classList.add('editing');
		$li.appendChild($input);
		this.editing = { id, $li, $input };
		$input.focus();
		$input.setSelectionRange(text.length, text.length);
		$input.addEventListener('keydown', (event) => {
			if (!this.editing || this.editing.$input !== $input) {
				return;
			}
			if (event.key === ENTER_KEY && !event.isComposing) {
				this.finishEdit(true);
			} else if (event.key === ESCAPE_KEY) {
				this.finishEdit(false);
			}
		});
		$input.addEventListener('blur', () => {
			if (this.editing && this.editing.$input === $input) {
				this.finishEdit(true);
			}
		});
		this.call('editStart', id);
	}

	/** Leave edit mode, saving the input's text or discarding it. */
	finishEdit(save) {
		const { id, $li, $input } = this.editing;
		this.editing = null;
		$li.classList.remove('editing');
		const hadFocus = document.activeElement === $input;
		$input.remove();
		if (hadFocus) {
			qs('label', $li).focus();
		}
		this.call(save ? 'editSave' : 'editCancel', id, $input.value);
	}

	/** Mark the filter link of `route` as selected. */
	showRoute(route) {
		for (const $link of this.$app.querySelectorAll('.filters a')) {
			const selected = $link.getAttribute('href') === `#/${route}`;
			$link.classList.toggle('selected', selected);
			if (selected) {
				$link.setAttribute('aria-current', 'page');
			} else {
				$link.removeAttribute('aria-current');
			}
		}
	}

	/** Point the "How this works" link back at list `docId`. */
	linkHowItWorks(docId) {
		if (this.$howItWorks) {
			const url = new URL(this.$howItWorks.href);
			url.searchParams.set('from', docId);
			this.$howItWorks.href = url.pathname + url.search;
		}
	}

	bindAddItem(handler) {
		this.$newTodo.addEventListener('keydown', (event) => {
			if (event.key === ENTER_KEY && !event.isComposing) {
				const text = this.$newTodo.value.trim();
				if (text) {
					handler(text);
				}
				this.$newTodo.value = '';
			}
		});
	}

	bindToggleItem(handler) {
		delegate(this.$todoList, '.toggle', 'change', ($toggle) => handler(itemId($toggle), $toggle.checked));
	}

	bindRemoveItem(handler) {
		delegate(this.$todoList, '.destroy', 'click', ($button) => {
			const $next = $button.closest('li').nextElementSibling;
			handler(itemId($button));
			($next ? qs('.toggle', $next) : this.$newTodo).focus();
		});
	}

	/** `handlers`: `{start(id), save(id, text), cancel(id)}` for edit mode. */
	bindEditItem({ start, save, cancel }) {
		this.handlers.editStart = start;
		this.handlers.editSave = save;
		this.handlers.editCancel = cancel;
	}

	bindToggleAll(handler) {
		this.$toggleAll.addEventListener('change', () => handler(this.$toggleAll.checked));
	}

	bindClearCompleted(handler) {
		this.$clearCompleted.addEventListener('click', () => {
			handler();
			this.$newTodo.focus();
		});
	}

	/**
	 * `start()` when the title gets focus; `save(text)` on Enter or blur if it
	 * changed; `end()` after blur; Escape puts back `revert()`'s text.
	 */
	bindTitle({ start, save, end, revert }) {
		this.$title.addEventListener('focus', () => start());
		this.$title.addEventListener('blur', () => end());
		this.$title.addEventListener('keydown', (event) => {
			if (event.key === ENTER_KEY && !event.isComposing) {
				this.$title.blur();
			} else if (event.key === ESCAPE_KEY) {
				this.$title.value = revert();
				this.$title.blur();
			}
		});
		this.$title.addEventListener('change', () => save(this.$title.value));
	}

	/**
	 * `undo()` and `redo()` (each true if it changed the list) from the buttons
	 * and from Ctrl/Cmd+Z, Ctrl/Cmd+Shift+Z and Ctrl+Y outside a text field's
	 * own undo (see keepsOwnUndo).
	 */
	bindUndo({ undo, redo }) {
		const actions = { undo, redo };
		const run = (action) => {
			this.$undoNote.textContent = UNDO_NOTE[action][actions[action]() ? 0 : 1];
		};
		for (const [action, $button] of [
			['undo', this.$undo],
			['redo', this.$redo],
		]) {
			$button.addEventListener('click', () => {
				run(action);
				if ($button.disabled) {
					// A disabled button drops the focus; keep it near.
					(action === 'undo' && !this.$redo.disabled ? this.$redo : this.$newTodo).focus();
				}
			});
		}
		document.addEventListener('keydown', (event) => {
			const action = undoShortcut(event);
			if (action && !event.isComposing && !this.keepsOwnUndo(event.target)) {
				event.preventDefault();
				run(action);
			}
		});
	}

	/** Enable the undo and redo buttons that have something to do. */
	showUndoState({ canUndo, canRedo }) {
		this.$undo.disabled = !canUndo;
		this.$redo.disabled = !canRedo;
	}

	/**
	 * Whether Ctrl+Z in `$target` is the field's own undo of its typing, as in
	 * any text box: true in a text field, except the new-todo field once empty
	 * (Enter has just added its text, so Ctrl+Z means "take that back").
	 */
	keepsOwnUndo($target) {
		if ($target && $target.isContentEditable) {
			return true;
		}
		const isField = $target instanceof HTMLInputElement || $target instanceof HTMLTextAreaElement;
		if (!isField || $target.readOnly || OWN_UNDO_SKIPS.has($target.type)) {
			return false;
		}
		return !($target === this.$newTodo && $target.value === '');
	}

	call(name, ...args) {
		if (this.handlers[name]) {
			this.handlers[name](...args);
		}
	}
}
