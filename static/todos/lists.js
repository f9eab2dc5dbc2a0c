/**
 * The lists opened in this browser (ids and last-seen titles, in localStorage),
 * and the ids and paths of lists.
 */

const STORAGE_KEY = 'todos.lists';
const MAX_LISTS = 50;
const NEW_ID_BYTES = 18; // 144 random bits: 24 URL-safe characters, like the server's
const LIST_PATH = /\/lists\/([A-Za-z0-9_-]{1,64})\/$/;

/** The remembered lists, most recently opened first: `[{id, title, openedAt}]`. */
export function knownLists(storage = globalThis.localStorage) {
	try {
		const lists = JSON.parse(storage.getItem(STORAGE_KEY) || '[]');
		return Array.isArray(lists) ? lists.filter((list) => list && typeof list.id === 'string') : [];
	} catch {
		return [];
	}
}

/** Remember that list `id` (titled `title`) is open now; returns the lists. */
export function rememberList(id, title, storage = globalThis.localStorage, now = Date.now()) {
	const others = knownLists(storage).filter((list) => list.id !== id);
	const lists = [{ id, title: String(title || ''), openedAt: now }, ...others].slice(0, MAX_LISTS);
	try {
		storage.setItem(STORAGE_KEY, JSON.stringify(lists));
	} catch {
		// Storage full or disabled: the menu just forgets.
	}
	return lists;
}

/** Update the remembered title of list `id`, keeping its place; returns the lists. */
export function retitleList(id, title, storage = globalThis.localStorage) {
	const lists = knownLists(storage);
	const list = lists.find((entry) => entry.id === id);
	if (list && list.title !== title) {
		list.title = String(title || '');
		try {
			storage.setItem(STORAGE_KEY, JSON.stringify(lists));
		} catch {
			// As above.
		}
	}
	return lists;
}

/** A fresh random list id (URL-safe base64 of 144 random bits), made offline. */
export function newListId(crypto = globalThis.crypto) {
	const bytes = crypto.getRandomValues(new Uint8Array(NEW_ID_BYTES));
	const base64 = btoa(String.fromCharCode(...bytes));
	return base64.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** The page path of list `id` under the site root `root` (ending in '/'). */
export function listPath(root, id) {
	return `${root}lists/${id}/`;
}

/** The list id in a page path, or null. */
export function docIdFromPath(pathname) {
	const match = LIST_PATH.exec(pathname);
	return match ? match[1] : null;
}
