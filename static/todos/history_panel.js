/**
 * The History panel: the list's changes in words, newest first, a page at a
 * time; the list as it was after one of them (read-only); restoring an item
 * deleted since.
 *
 * The panel reads the document through the store and changes it only through
 * `change(mutate)` (the controller's), like every other edit. The words, the
 * walk and the versions come from history.js; this module owns the panel's
 * DOM and keeps it current while the list changes.
 */

import { qs } from './dom.js';
import { HISTORY_PAGE_SIZE, HistoryWalk, changesSince, describeChange, restoreIndex, versionAt } from './history.js';
import { changedText, escapeForHTML } from './template.js';

const ESCAPE_KEY = 'Escape';
const DATE_TIME = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' });

/** When a change was made: relative, with the full date and time as its title. */
function timeHTML(time, now) {
	if (!(time > 0)) {
		return '<span class="history-time">at an unknown time</span>';
	}
	const iso = new Date(time).toISOString();
	return `<time class="history-time" datetime="${iso}" title="${DATE_TIME.format(time)}">${changedText(time, now)}</time>`;
}

/** One entry of the change list: a button that shows the list as it was after it. */
export function historyEntryHTML({ hash, text, time, own }, now = Date.now()) {
	const origin = own ? 'this browser' : 'elsewhere';
	return `<li class="history-entry${own ? ' own' : ''}" data-hash="${escapeForHTML(hash)}">
	<button type="button" class="history-choose">
		<span class="history-what">${escapeForHTML(text)}</span>
		<span class="history-meta">${timeHTML(time, now)} · <span class="history-origin">${origin}</span></span>
	</button>
</li>`;
}

/** One item of a past version, with its state in words and a Restore button if it is gone now. */
export function versionItemHTML({ id, text, done, deletedHere, restorable }, restored) {
	const safeText = escapeForHTML(text);
	const classes = ['history-item', done ? 'completed' : '', deletedHere ? 'deleted-here' : ''].filter(Boolean).join(' ');
	const notes = [done ? 'done' : 'not done', deletedHere ? 'deleted by this change' : ''].filter(Boolean).join(', ');
	let action = '';
	if (restored) {
		action = '<span class="history-restored">restored</span>';
	} else if (restorable) {
		action = `<button type="button" class="history-restore" aria-label="Restore “${safeText}”">Restore</button>`;
	}
	return `<li class="${classes}" data-id="${escapeForHTML(id)}">
	<span class="history-item-text">${safeText}</span>
	<span class="history-item-note">(${notes})</span>
	${action}
</li>`;
}

export class HistoryPanel {
	/**
	 * @param {object} options
	 * @param {object} options.Automerge The Automerge namespace.
	 * @param {Store} options.store The document's store (read only).
	 * @param {object} options.todos The document operations (doc.js).
	 * @param {function(function)} options.change Makes a change, as the controller does.
	 * @param {OwnActors} options.ownActors This browser's actor ids (history.js).
	 * @param {Document|Element} [options.root] Where the panel's markup is.
	 */
	constructor({ Automerge, store, todos, change, ownActors, root = document }) {
		this.A = Automerge;
		this.store = store;
		this.todos = todos;
		this.change = change;
		this.ownActors = ownActors;
		this.$toggle = qs('.history-toggle', root);
		this.$panel = qs('.history-panel', root);
		this.$heading = qs('.history-heading', this.$panel);
		this.$list = qs('.history-list', this.$panel);
		this.$more = qs('.history-more', this.$panel);
		this.$empty = qs('.history-empty', this.$panel);
		this.$note = qs('.history-note', this.$panel);
		this.$version = qs('.history-version', this.$panel);
		this.$versionHeading = qs('.history-version-heading', this.$panel);
		this.$versionTitle = qs('.history-version-title', this.$panel);
		this.$versionItems = qs('.history-version-items', this.$panel);
		this.session = null;
		this.recordedActor = null;
		this.bindEvents();
		store.subscribe(({ origin }) => this.updated(origin));
	}

	bindEvents() {
		this.$toggle.addEventListener('click', () => (this.session ? this.close() : this.open()));
		qs('.history-close', this.$panel).addEventListener('click', () => this.close());
		qs('.history-back', this.$panel).addEventListener('click', () => this.showChanges());
		this.$more.addEventListener('click', () => this.showOlder());
		this.$panel.addEventListener('keydown', (event) => {
			if (event.key === ESCAPE_KEY) {
				event.preventDefault();
				this.close();
			}
		});
		this.$list.addEventListener('click', (event) => {
			const $entry = event.target.closest('.history-entry');
			if ($entry) {
				this.choose($entry.dataset.hash);
			}
		});
		this.$versionItems.addEventListener('click', (event) => {
			const $restore = event.target.closest('.history-restore');
			if ($restore) {
				this.restore($restore.closest('li[data-id]').dataset.id);
			}
		});
	}

	/** Open the panel on the newest page of changes; focus its heading. */
	open() {
		const heads = this.store.heads();
		this.session = {
			walk: new HistoryWalk(this.A, heads, this.todos.initialHeads()),
			shownHeads: heads,
			entries: new Map(), // hash -> entry
			version: null,
			restored: new Set(),
		};
		this.$list.innerHTML = '';
		this.$note.textContent = '';
		this.$version.hidden = true;
		this.$list.hidden = false;
		this.$panel.hidden = false;
		this.$toggle.setAttribute('aria-expanded', 'true');
		this.showOlder();
		this.$heading.focus();
	}

	/** Close the panel; focus goes back to the History button. */
	close() {
		this.session = null;
		this.$panel.hidden = true;
		this.$toggle.setAttribute('aria-expanded', 'false');
		this.$toggle.focus();
	}

	/** Add the next page of older changes to the list. */
	showOlder() {
		const { walk } = this.session;
		const hadEntries = this.$list.children.length > 0;
		const entries = this.describe(walk.next(this.store.doc, HISTORY_PAGE_SIZE));
		this.$list.insertAdjacentHTML('beforeend', this.entriesHTML(entries));
		this.$more.hidden = !walk.hasMore();
		this.$empty.hidden = hadEntries || entries.length > 0;
		if (hadEntries && entries.length > 0) {
			qs('.history-choose', this.$list.children[this.$list.children.length - entries.length]).focus();
		}
	}

	/** Show the list as it was after change `hash`, read-only. */
	choose(hash) {
		const { session } = this;
		const entry = session.entries.get(hash);
		session.version = { entry, ...versionAt(this.A, this.todos, this.store.doc, entry.change, this.currentIds()) };
		for (const $entry of this.$list.children) {
			$entry.classList.toggle('chosen', $entry.dataset.hash === hash);
		}
		this.$versionHeading.innerHTML = `As it was after: ${escapeForHTML(entry.text)} (${timeHTML(entry.change.time, Date.now())})`;
		this.renderVersion();
		this.$list.hidden = true;
		this.$more.hidden = true;
		this.$empty.hidden = true;
		this.$version.hidden = false;
		this.$versionHeading.focus();
	}

	/** Back from a version to the change list, focus on the entry that was chosen. */
	showChanges() {
		const { session } = this;
		const hash = session.version?.entry.change.hash;
		session.version = null;
		this.$version.hidden = true;
		this.$list.hidden = false;
		this.$more.hidden = !session.walk.hasMore();
		const $chosen = [...this.$list.children].find(($entry) => $entry.dataset.hash === hash);
		(($chosen && qs('.history-choose', $chosen)) || this.$heading).focus();
	}

	/** Put item `id` of the version shown back into the list, as a new change. */
	restore(id) {
		const { version, restored } = this.session;
		const item = version.items.find((other) => other.id === id);
		const current = this.todos.items(this.store.doc);
		const index = restoreIndex(current, version.items, id);
		restored.add(id);
		this.change((doc) => this.todos.insertItem(doc, index, item));
		this.$note.textContent = `Restored “${item.text}” to the list.`;
		this.renderVersion();
		qs('.history-back', this.$panel).focus();
	}

	renderVersion() {
		const { version, restored } = this.session;
		this.$versionTitle.textContent = version.title ? `Title: ${version.title}` : 'Untitled list';
		this.$versionItems.innerHTML = version.items.length
			? version.items.map((item) => versionItemHTML(item, restored.has(item.id))).join('')
			: '<li class="history-item">No items</li>';
	}

	// While open, changes made since (here or elsewhere) join the top of the
	// list, and a version shown updates what can still be restored.
	updated(origin) {
		if (origin === 'local' && this.recordedActor !== this.store.actorId()) {
			// Once per tab (its actor never changes), not a localStorage write per edit.
			this.recordedActor = this.store.actorId();
			this.ownActors.add(this.recordedActor);
		}
		const { session } = this;
		if (!session) {
			return;
		}
		const newer = this.describe(changesSince(this.A, this.store.doc, session.shownHeads));
		session.shownHeads = this.store.heads();
		this.$list.insertAdjacentHTML('afterbegin', this.entriesHTML(newer));
		if (newer.length > 0) {
			this.$empty.hidden = true;
		}
		if (session.version) {
			const ids = this.currentIds();
			session.version.items = session.version.items.map((item) => ({ ...item, restorable: !ids.has(item.id) }));
			this.renderVersion();
		}
	}

	describe(changes) {
		const own = this.ownActors.all();
		return changes.map((change) => {
			const entry = {
				change,
				hash: change.hash,
				time: change.time,
				own: own.has(change.actor),
				text: describeChange(this.A, this.todos, this.store.doc, change).text,
			};
			this.session.entries.set(change.hash, entry);
			return entry;
		});
	}

	entriesHTML(entries) {
		const now = Date.now();
		return entries.map((entry) => historyEntryHTML(entry, now)).join('');
	}

	currentIds() {
		return new Set(this.todos.items(this.store.doc).map((item) => item.id));
	}
}
