/**
 * Turns what the person does (view hooks) into document changes (store), and
 * renders the document whenever it changes, from here or from anywhere else.
 */

import { ItemList } from './items.js';

/** The routes of the filter links: the hash after '#/'. */
export const ROUTES = ['', 'active', 'completed'];

/** The route named by a location hash ('#/active' -> 'active'); unknown ones show all. */
export function routeFromHash(hash) {
	const route = String(hash || '').replace(/^#!?\/?/, '');
	return ROUTES.includes(route) ? route : '';
}

/** The items a route shows (all: `items` itself); the item being edited stays while it is edited. */
export function filterItems(items, route, keepId = null) {
	if (route === '') {
		return items;
	}
	const wanted = { active: (item) => !item.done, completed: (item) => item.done }[route];
	return items.filter((item) => item.id === keepId || wanted(item));
}

export class Controller {
	/**
	 * @param {object} options
	 * @param {Store} options.store The document's store.
	 * @param {View} options.view The view.
	 * @param {object} options.todos The document operations (doc.js).
	 * @param {UndoHistory} options.undo This tab's undo history (undo.js): own edits go through it.
	 * @param {function(object)} [options.onSummary] Told the list's summary (doc.js) after each render.
	 * @param {function()} [options.onChange] Told after each change made here (not those from elsewhere).
	 * @param {boolean} [options.readOnly] Only render (a view-only link): bind no edits.
	 */
	constructor({ store, view, todos, undo, onSummary = () => {}, onChange = () => {}, readOnly = false }) {
		this.store = store;
		this.undo = undo;
		this.view = view;
		this.todos = todos;
		this.onSummary = onSummary;
		this.onChange = onChange;
		this.route = '';
		this.editBase = new Map();
		this.titleBase = null;
		this.itemList = new ItemList({ store, todos });
		this.shownItems = null; // the items the view last showed, if it showed them all
		store.subscribe(({ patches }) => {
			this.itemList.updated(patches);
			this.render();
		});
		if (readOnly) {
			return;
		}

		view.bindAddItem((text) => this.change((doc) => todos.addItem(doc, text)));
		view.bindToggleItem((id, done) => this.change((doc) => todos.setDone(doc, id, done)));
		view.bindRemoveItem((id) => this.change((doc) => todos.removeItem(doc, id)));
		view.bindToggleAll((done) => this.change((doc) => todos.setAllDone(doc, done)));
		view.bindClearCompleted(() => this.change((doc) => todos.clearCompleted(doc)));
		view.bindEditItem({
			start: (id) => this.editBase.set(id, store.heads()),
			save: (id, text) => this.saveEdit(id, text),
			cancel: (id) => {
				this.editBase.delete(id);
				this.render();
			},
		});
		view.bindTitle({
			start: () => {
				this.titleBase = store.heads();
			},
			save: (text) => {
				const base = this.titleBase;
				this.titleBase = null;
				this.change((doc) => todos.setTitle(doc, text, base));
			},
			end: () => this.render(), // show edits from elsewhere held back while focused
			revert: () => todos.title(store.doc),
		});
		this.bindUndo();
	}

	/** Undo and redo from the view; the view's buttons follow the stacks. */
	bindUndo() {
		const { undo, view } = this;
		const notify = (changed) => {
			if (changed) {
				this.onChange();
			}
			return changed;
		};
		view.bindUndo({ undo: () => notify(undo.undo()), redo: () => notify(undo.redo()) });
		undo.subscribe((state) => view.showUndoState(state));
		view.showUndoState(undo.state());
	}

	/** Show the route named by `hash` ('#/', '#/active', '#/completed'). */
	setRoute(hash) {
		this.route = routeFromHash(hash);
		this.render();
	}

	/**
	 * Render the document through the view: with all items shown and none
	 * edited, only the changes since the last render (items.js), else everything.
	 */
	render() {
		const { todos, store, itemList } = this;
		const title = todos.title(store.doc);
		const items = itemList.items();
		const changes = itemList.changes();
		const shown = filterItems(items, this.route, this.view.editingId());
		const incremental = shown === items && changes && changes.from === this.shownItems;
		this.shownItems = shown === items ? items : null;
		this.view.render({
			items: shown,
			changes: incremental ? changes : null,
			counts: itemList.counts(),
			title,
			route: this.route,
		});
		this.onSummary(todos.summary(store.doc, items));
	}

	saveEdit(id, text) {
		const base = this.editBase.get(id);
		this.editBase.delete(id);
		if (!this.change((doc) => this.todos.editText(doc, id, text, base))) {
			this.render(); // nothing changed: show the stored text again
		}
	}

	change(mutate) {
		const changed = this.undo.change(mutate);
		if (changed) {
			this.onChange();
		}
		return changed;
	}
}
