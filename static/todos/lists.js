/**
 * The lists used in this browser (in localStorage): the lists menu, the list
 * that '/' opens, and the ids and paths of lists.
 *
 * A list joins the menu once it is edited (a title or an item, here or
 * anywhere): a list opened and never touched leaves no trace but the "last
 * opened" pointer, so that '/' opened again returns to it instead of making
 * yet another empty list.
 */

const LISTS_KEY = 'todos.lists';
const LAST_OPENED_KEY = 'todos.lastOpened';
const MAX_LISTS = 50;
const NEW_ID_BYTES = 18; // 144 random bits: 24 URL-safe characters, where ids cannot be hashed
const REPO_ID_BYTES = 16; // automerge-repo's document ids: bs58check of 128 random bits
const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const LIST_PATH = /\/lists\/([A-Za-z0-9_-]{1,64})\/$/;
const VIEW_PATH = /\/view\/([A-Za-z0-9_-]{1,64})\/$/;
const LIST_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** `localStorage`, or null where reading it throws (storage blocked by the browser's settings). */
export function localStorageOrNull() {
	try {
		return globalThis.localStorage ?? null;
	} catch {
		return null;
	}
}

export class RecentLists {
	/**
	 * @param {Storage} [storage] localStorage by default (none where the browser blocks it:
	 *     then the menu stays empty and '/' starts a new list).
	 * @param {function(): number} [clock] Date.now by default.
	 */
	constructor(storage = localStorageOrNull(), clock = Date.now) {
		this.storage = storage;
		this.clock = clock;
		this.seen = new Set(); // lists this page has put at the front of the menu
	}

	/** The menu's lists, most recently used first: `[{id, title, firstItem, changedAt, openedAt}]` (`openedAt`: when it last came to the front). */
	all() {
		try {
			const lists = JSON.parse(this.storage.getItem(LISTS_KEY) || '[]');
			return Array.isArray(lists) ? lists.filter((list) => list && typeof list.id === 'string' && LIST_ID.test(list.id)) : [];
		} catch {
			return [];
		}
	}

	/** The id of the list '/' opens: the last one used here, else the last opened, else null. */
	homeId() {
		const [last] = this.all();
		if (last) {
			return last.id;
		}
		const opened = this._read(LAST_OPENED_KEY);
		return opened && LIST_ID.test(opened) ? opened : null;
	}

	/** Note that list `id` is open in this page. */
	opened(id) {
		this._write(LAST_OPENED_KEY, id);
	}

	/**
	 * Note that list `id` is in use in this page (the page came to the front, or
	 * an edit was made in it): it moves to the front of the menu, so that '/'
	 * opens it, and is the list last opened. A list that was removed from the
	 * menu after this page saw it edited stays out. Returns the menu's lists.
	 */
	used(id) {
		const lists = this.all();
		const index = lists.findIndex((list) => list.id === id);
		if (index < 0 && this.seen.has(id)) {
			return lists;
		}
		if (this._read(LAST_OPENED_KEY) !== id) {
			this._write(LAST_OPENED_KEY, id);
		}
		if (index <= 0) {
			return lists;
		}
		const entry = { ...lists[index], openedAt: this.clock() };
		return this._save([entry, ...lists.slice(0, index), ...lists.slice(index + 1)]);
	}

	/**
	 * Record list `id`'s summary (doc.js `summary`); returns the menu's lists.
	 *
	 * An edited list goes to the front of the menu the first time this page sees
	 * it edited (when it is opened, or when its first edit is made or arrives);
	 * after that its entry is updated in place, and not brought back if it was
	 * removed meanwhile. A list never edited is left out.
	 */
	update(id, { edited, title, firstItem, changedAt }) {
		const lists = this.all();
		if (!edited) {
			return lists;
		}
		const index = lists.findIndex((list) => list.id === id);
		const entry = { id, title: String(title || ''), firstItem: String(firstItem || ''), changedAt: changedAt || null };
		if (!this.seen.has(id)) {
			this.seen.add(id);
			const others = lists.filter((list) => list.id !== id);
			return this._save([{ ...entry, openedAt: this.clock() }, ...others].slice(0, MAX_LISTS));
		}
		if (index < 0 || sameEntry(lists[index], entry)) {
			return lists;
		}
		lists[index] = { ...lists[index], ...entry };
		return this._save(lists);
	}

	/** List `oldId` moved to the edit id `newId` (its edit link was replaced): follow it. */
	moved(oldId, newId) {
		if (this._read(LAST_OPENED_KEY) === oldId) {
			this._write(LAST_OPENED_KEY, newId);
		}
		if (this.seen.delete(oldId)) {
			this.seen.add(newId);
		}
		return this._save(this.all().map((list) => (list.id === oldId ? { ...list, id: newId } : list)));
	}

	/** Take list `id` out of this browser's menu (its document is kept); returns the lists. */
	remove(id) {
		if (this._read(LAST_OPENED_KEY) === id) {
			this._write(LAST_OPENED_KEY, null);
		}
		return this._save(this.all().filter((list) => list.id !== id));
	}

	_save(lists) {
		this._write(LISTS_KEY, JSON.stringify(lists));
		return lists;
	}

	_read(key) {
		try {
			return this.storage.getItem(key);
		} catch {
			return null;
		}
	}

	_write(key, value) {
		try {
			if (value === null) {
				this.storage.removeItem(key);
			} else {
				this.storage.setItem(key, value);
			}
		} catch {
			// Storage full or disabled: the menu just forgets.
		}
	}
}

function sameEntry(a, b) {
	return a.title === b.title && a.firstItem === b.firstItem && a.changedAt === b.changedAt;
}

/**
 * A fresh random list id, made offline. Where the page can hash (a secure
 * context: https, or localhost) it is an automerge-repo document id, bs58check
 * of 128 random bits, like the server's '/new/', so that automerge-repo
 * clients can open the list (docs/architecture.md); elsewhere URL-safe base64
 * of 144 random bits, which only the app can open.
 */
export async function newListId(crypto = globalThis.crypto) {
	if (!crypto.subtle) {
		const bytes = crypto.getRandomValues(new Uint8Array(NEW_ID_BYTES));
		const base64 = btoa(String.fromCharCode(...bytes));
		return base64.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
	}
	const payload = crypto.getRandomValues(new Uint8Array(REPO_ID_BYTES));
	const once = await crypto.subtle.digest('SHA-256', payload);
	const twice = new Uint8Array(await crypto.subtle.digest('SHA-256', once));
	return base58([...payload, ...twice.slice(0, 4)]);
}

/** `bytes` in Base58 (Bitcoin's alphabet): each leading zero byte is a '1'. */
function base58(bytes) {
	let number = bytes.reduce((value, byte) => value * 256n + BigInt(byte), 0n);
	let text = '';
	while (number > 0n) {
		text = BASE58[Number(number % 58n)] + text;
		number /= 58n;
	}
	const zeros = bytes.findIndex((byte) => byte !== 0);
	return BASE58[0].repeat(zeros === -1 ? bytes.length : zeros) + text;
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

/** The view-only token in a page path (`/view/<token>/`), or null. */
export function viewTokenFromPath(pathname) {
	const match = VIEW_PATH.exec(pathname);
	return match ? match[1] : null;
}
