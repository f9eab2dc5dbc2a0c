/**
 * A list's history in words, read lazily from the newest change back.
 *
 * Automerge keeps every change; this module turns them into what the History
 * panel shows, without `Automerge.getHistory` (which builds the document at
 * every one of its changes, seconds for a list with thousands of them):
 *
 * - `HistoryWalk` yields change metadata newest first, a page at a time, by
 *   walking back from the heads along each change's `deps`
 *   (`Automerge.inspectChange`), so opening the panel costs one page whatever
 *   the length of the history.
 * - `describeChange` says what one change did ("added “milk”") by comparing
 *   the list as it was at the change's deps with the list at the change
 *   (`Automerge.view`), item by item (by object id).
 * - `versionAt` is the list as it was after a change, read-only, with the
 *   items that change deleted; `restoreIndex` says where a deleted item goes
 *   back. Restoring is a new change (doc.js `insertItem`), so it syncs and
 *   merges like any edit.
 * - `OwnActors` remembers the actor ids this browser has written with, so an
 *   entry can say whether it came from this browser.
 *
 * Like doc.js, it never imports Automerge: the namespace is passed in.
 */

import { localStorageOrNull } from './lists.js';

/** Entries the panel shows at first, and adds per "Show older". */
export const HISTORY_PAGE_SIZE = 20;

/** Actor ids kept in `OwnActors`; the oldest are forgotten first. */
export const MAX_OWN_ACTORS = 500;

const OWN_ACTORS_KEY = 'todos.ownActors';
const QUOTED_TEXT_MAX = 40;
const NAMED_ITEMS_MAX = 3;

/**
 * Change metadata, newest first, from `heads` back to (not including) `stopAt`.
 *
 * The walk keeps a frontier (changes a yielded change depends on) and always
 * yields the one with the highest `startOp`, Automerge's Lamport counter: a
 * change's counter exceeds those of everything it depends on, so a change is
 * never yielded after what it builds on, whatever the devices' clocks say
 * (changes in one second, or a clock set wrong). Each change is decoded
 * only when its page is asked for.
 */
export class HistoryWalk {
	/**
	 * @param {object} Automerge The Automerge namespace.
	 * @param {string[]} heads Where to start (the document's heads when the panel opened).
	 * @param {string[]} [stopAt] Changes not to yield nor walk past (the genesis change).
	 */
	constructor(Automerge, heads, stopAt = []) {
		this.A = Automerge;
		this.stopAt = new Set(stopAt);
		this.seen = new Set();
		this.frontier = [];
		this.pending = heads;
	}

	/** True while older changes remain. */
	hasMore() {
		return this.frontier.length > 0 || this.pending.length > 0;
	}

	/**
	 * The next `count` changes `{hash, actor, seq, startOp, time, deps}` (time in ms) of `doc`.
	 *
	 * `doc` may be a later version of the document than the one the walk
	 * started on: a document only grows, so every hash stays valid.
	 */
	next(doc, count = HISTORY_PAGE_SIZE) {
		this._enqueue(doc, this.pending);
		this.pending = [];
		const page = [];
		while (page.length < count && this.frontier.length > 0) {
			const change = this._takeNewest();
			page.push(change);
			this._enqueue(doc, change.deps);
		}
		return page;
	}

	_enqueue(doc, hashes) {
		for (const hash of hashes) {
			if (this.seen.has(hash) || this.stopAt.has(hash)) {
				continue;
			}
			this.seen.add(hash);
			const change = this.A.inspectChange(doc, hash);
			if (change) {
				this.frontier.push(changeMeta(change));
			}
		}
	}

	_takeNewest() {
		let newest = 0;
		for (let index = 1; index < this.frontier.length; index += 1) {
			if (isNewer(this.frontier[index], this.frontier[newest])) {
				newest = index;
			}
		}
		return this.frontier.splice(newest, 1)[0];
	}
}

/** The changes of `doc` not in the history of `heads`, as `HistoryWalk` yields them, newest first. */
export function changesSince(Automerge, doc, heads) {
	return Automerge.getChangesMetaSince(doc, heads)
		.map(changeMeta)
		.sort((a, b) => (isNewer(a, b) ? -1 : 1));
}

function changeMeta({ hash, actor, seq, startOp, time, deps }) {
	return { hash, actor, seq, startOp, time: time * 1000, deps: [...deps] };
}

function isNewer(a, b) {
	return a.startOp !== b.startOp ? a.startOp > b.startOp : a.hash > b.hash;
}

/**
 * What `change` did to the list, in words: `{text, added, deleted, completed, reopened, edited, renamed}`.
 *
 * Each list holds the items (`{id, text, done}`) concerned; `renamed` is the
 * new title or null. Compares the list at the change's deps with the list at
 * the change, so a change is described alone even when others were made
 * concurrently.
 *
 * @param {object} Automerge The Automerge namespace.
 * @param {object} todos The document operations (doc.js).
 */
export function describeChange(Automerge, todos, doc, change) {
	const before = Automerge.view(doc, change.deps);
	const after = Automerge.view(doc, [change.hash]);
	const was = new Map(todos.items(before).map((item) => [item.id, item]));
	const now = todos.items(after);
	const nowIds = new Set(now.map((item) => item.id));
	const kept = now.filter((item) => was.has(item.id));
	const effect = {
		added: now.filter((item) => !was.has(item.id)),
		deleted: [...was.values()].filter((item) => !nowIds.has(item.id)),
		completed: kept.filter((item) => item.done && !was.get(item.id).done),
		reopened: kept.filter((item) => !item.done && was.get(item.id).done),
		edited: kept
			.filter((item) => item.text !== was.get(item.id).text)
			.map((item) => ({ ...item, before: was.get(item.id).text })),
		renamed: todos.title(before) === todos.title(after) ? null : todos.title(after),
	};
	return { ...effect, text: effectText(effect) };
}

function effectText({ added, deleted, completed, reopened, edited, renamed }) {
	const parts = [];
	if (renamed !== null) {
		parts.push(renamed ? `renamed the list to ${quote(renamed)}` : 'removed the list’s title');
	}
	if (edited.length === 1) {
		parts.push(`changed ${quote(edited[0].before)} to ${quote(edited[0].text)}`);
	} else if (edited.length > 1) {
		parts.push(`edited ${namedItems(edited)}`);
	}
	for (const [verb, items] of [
		['added', added],
		['completed', completed],
		['marked not done', reopened],
		['deleted', deleted],
	]) {
		if (items.length > 0) {
			parts.push(`${verb} ${namedItems(items)}`);
		}
	}
	return parts.length > 0 ? parts.join(', ') : 'made no visible change';
}

/** “a”, “a” and “b”, “a”, “b” and “c”, or “a”, “b”, “c” and 4 more. */
function namedItems(items) {
	const names = items.slice(0, NAMED_ITEMS_MAX).map((item) => quote(item.text));
	const more = items.length - names.length;
	if (more > 0) {
		return `${names.join(', ')} and ${more} more`;
	}
	return names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

function quote(text) {
	const short = text.length > QUOTED_TEXT_MAX ? `${text.slice(0, QUOTED_TEXT_MAX - 1)}…` : text;
	return `“${short}”`;
}

/**
 * The list as it was just after `change`: `{title, items}`, read-only.
 *
 * The items the change deleted are included where they stood, marked
 * `deletedHere`; every item is marked `restorable` if it is no longer in
 * `currentIds` (the ids of the list as it is now).
 */
export function versionAt(Automerge, todos, doc, change, currentIds) {
	const after = Automerge.view(doc, [change.hash]);
	const before = todos.items(Automerge.view(doc, change.deps));
	const items = todos.items(after).map((item) => ({ ...item, deletedHere: false }));
	const ids = new Set(items.map((item) => item.id));
	before.forEach((item, index) => {
		if (!ids.has(item.id)) {
			// Deleted by this change: show it where it stood among the items before it.
			const previous = before.slice(0, index).findLast((other) => ids.has(other.id));
			const at = previous ? items.findIndex((other) => other.id === previous.id) + 1 : 0;
			items.splice(at, 0, { ...item, deletedHere: true });
		}
	});
	return {
		title: todos.title(after),
		items: items.map((item) => ({ ...item, restorable: !currentIds.has(item.id) })),
	};
}

/**
 * Where item `id` of `versionItems` goes back into `currentItems`: just after
 * the nearest item before it (in the version) that still exists, else before
 * the nearest one after it, else at the end.
 */
export function restoreIndex(currentItems, versionItems, id) {
	const position = new Map(currentItems.map((item, index) => [item.id, index]));
	const at = versionItems.findIndex((item) => item.id === id);
	const previous = versionItems.slice(0, at).findLast((item) => position.has(item.id));
	if (previous) {
		return position.get(previous.id) + 1;
	}
	const following = versionItems.slice(at + 1).find((item) => position.has(item.id));
	return following ? position.get(following.id) : currentItems.length;
}

/**
 * The Automerge actor ids this browser has made changes with (in localStorage).
 *
 * Every tab loads the list with a new random actor, so "from this browser"
 * means "made by one of the actors any tab of this browser recorded here".
 */
export class OwnActors {
	/** @param {Storage} [storage] localStorage by default (none: nothing is "from this browser"). */
	constructor(storage = localStorageOrNull()) {
		this.storage = storage;
	}

	/** The remembered actor ids. */
	all() {
		try {
			const actors = JSON.parse(this.storage?.getItem(OWN_ACTORS_KEY) || '[]');
			return new Set(Array.isArray(actors) ? actors.filter((actor) => typeof actor === 'string') : []);
		} catch {
			return new Set();
		}
	}

	/** True if `actor` made changes in this browser. */
	has(actor) {
		return this.all().has(actor);
	}

	/** Remember `actor` (newest kept last; at most MAX_OWN_ACTORS). */
	add(actor) {
		const actors = this.all();
		if (actors.has(actor) || !this.storage) {
			return;
		}
		const kept = [...actors, actor].slice(-MAX_OWN_ACTORS);
		try {
			this.storage.setItem(OWN_ACTORS_KEY, JSON.stringify(kept));
		} catch (error) {
			console.warn('Could not remember this browser’s changes for the history:', error);
		}
	}
}
