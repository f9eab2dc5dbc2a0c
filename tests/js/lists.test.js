/** Tests of static/todos/lists.js, template.js and the routes of controller.js. */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { filterItems, routeFromHash } from '../../static/todos/controller.js';
import { documentIdToBinary, isValidDocumentId } from 'automerge-repo-v2';
import { RecentLists, docIdFromPath, listPath, newListId } from '../../static/todos/lists.js';
import { changedText, escapeForHTML, itemCounter, itemHTML, listLinksHTML } from '../../static/todos/template.js';
import { FakeLocalStorage } from './helpers.js';

const NOT_EDITED = { edited: false, title: '', firstItem: '', changedAt: null };
const edited = (title, firstItem = '', changedAt = 1000) => ({ edited: true, title, firstItem, changedAt });

/** `RecentLists` on `storage` whose clock reads 1, 2, 3, ... */
function recentLists(storage) {
	let now = 0;
	return new RecentLists(storage, () => (now += 1));
}

const ids = (lists) => lists.map((list) => list.id);

describe('the lists used in this browser', () => {
	test('a list never edited stays out of the menu, but is where "/" goes back to', () => {
		const storage = new FakeLocalStorage();
		const page = recentLists(storage);
		assert.equal(page.homeId(), null);
		page.opened('blank');
		assert.deepEqual(page.update('blank', NOT_EDITED), []);
		assert.deepEqual(page.all(), []);
		assert.equal(new RecentLists(storage).homeId(), 'blank');
	});

	test('a list joins the menu, at the front, with its first edit', () => {
		const storage = new FakeLocalStorage();
		recentLists(storage).update('old', edited('Old'));
		const page = recentLists(storage);
		page.opened('new');
		page.update('new', NOT_EDITED);
		const lists = page.update('new', edited('', 'milk', 5000));
		assert.deepEqual(ids(lists), ['new', 'old']);
		assert.deepEqual(lists[0], { id: 'new', title: '', firstItem: 'milk', changedAt: 5000, openedAt: 1 });
	});

	test('"/" goes to the list used last, not to an untouched one opened since', () => {
		const storage = new FakeLocalStorage();
		const first = recentLists(storage);
		first.opened('used');
		first.update('used', edited('Used'));
		const second = recentLists(storage);
		second.opened('untouched');
		second.update('untouched', NOT_EDITED);
		assert.equal(new RecentLists(storage).homeId(), 'used');
	});

	test('opening an edited list brings it to the front; later updates keep its place', () => {
		const storage = new FakeLocalStorage();
		recentLists(storage).update('a', edited('A'));
		recentLists(storage).update('b', edited('B'));
		const page = recentLists(storage);
		assert.deepEqual(ids(page.update('a', edited('A'))), ['a', 'b']);
		recentLists(storage).update('b', edited('B'));
		const lists = page.update('a', edited('Renamed', 'x', 2000));
		assert.deepEqual(lists.map((list) => [list.id, list.title, list.changedAt]), [
			['b', 'B', 1000],
			['a', 'Renamed', 2000],
		]);
	});

	test('the list used last in any page goes to the front: "/" opens it', () => {
		const storage = new FakeLocalStorage();
		const tabA = recentLists(storage);
		tabA.opened('a');
		tabA.update('a', edited('A'));
		const tabB = recentLists(storage);
		tabB.opened('b');
		tabB.update('b', edited('B'));
		assert.equal(new RecentLists(storage).homeId(), 'b');
		// Tab A comes to the front again, or is edited.
		const lists = tabA.used('a');
		assert.deepEqual(ids(lists), ['a', 'b']);
		assert.equal(lists[0].title, 'A');
		assert.equal(new RecentLists(storage).homeId(), 'a');
		assert.deepEqual(ids(tabA.used('a')), ['a', 'b']); // already first: nothing moves
		assert.deepEqual(ids(tabB.used('b')), ['b', 'a']);
	});

	test('an untouched list in use is the one "/" goes back to while the menu is empty', () => {
		const storage = new FakeLocalStorage();
		const tabA = recentLists(storage);
		tabA.opened('a');
		tabA.update('a', NOT_EDITED);
		const tabB = recentLists(storage);
		tabB.opened('b');
		tabB.update('b', NOT_EDITED);
		assert.deepEqual(tabA.used('a'), []);
		assert.equal(new RecentLists(storage).homeId(), 'a');
	});

	test('a list removed from the menu is not brought back by using it', () => {
		const storage = new FakeLocalStorage();
		recentLists(storage).update('other', edited('Other'));
		const page = recentLists(storage);
		page.opened('gone');
		page.update('gone', edited('Gone'));
		recentLists(storage).remove('gone'); // from another tab's menu
		assert.deepEqual(ids(page.used('gone')), ['other']);
		assert.equal(new RecentLists(storage).homeId(), 'other');
		assert.equal(storage.getItem('todos.lastOpened'), null);
	});

	test('a removed list leaves the menu and is not brought back by the page that has it open', () => {
		const storage = new FakeLocalStorage();
		const page = recentLists(storage);
		page.opened('a');
		page.update('a', edited('A'));
		recentLists(storage).update('b', edited('B'));
		assert.deepEqual(ids(new RecentLists(storage).remove('a')), ['b']);
		assert.deepEqual(ids(page.update('a', edited('A again'))), ['b']);
		assert.equal(page.homeId(), 'b');
		new RecentLists(storage).remove('b');
		assert.equal(page.homeId(), null, 'the removed list is not the last opened any more');
		assert.deepEqual(ids(recentLists(storage).update('a', edited('A'))), ['a'], 'opened again, it is back');
	});

	test('where the browser blocks localStorage, the menu is empty and "/" starts a new list', () => {
		const had = Object.getOwnPropertyDescriptor(globalThis, 'localStorage');
		Object.defineProperty(globalThis, 'localStorage', {
			configurable: true,
			get() {
				throw new Error('SecurityError: access denied');
			},
		});
		try {
			const page = new RecentLists();
			page.opened('a');
			page.update('a', edited('A')); // nothing is kept, and nothing throws
			assert.deepEqual(page.used('a'), []);
			assert.deepEqual(page.remove('a'), []);
			assert.deepEqual(new RecentLists().all(), []);
			assert.equal(new RecentLists().homeId(), null);
		} finally {
			if (had) {
				Object.defineProperty(globalThis, 'localStorage', had);
			} else {
				delete globalThis.localStorage;
			}
		}
	});

	test('damaged storage reads as no lists', () => {
		const storage = new FakeLocalStorage();
		storage.setItem('todos.lists', '{not json');
		assert.deepEqual(new RecentLists(storage).all(), []);
		storage.setItem('todos.lists', JSON.stringify([{ id: '../x' }, { id: 'ok' }, null]));
		assert.deepEqual(ids(new RecentLists(storage).all()), ['ok']);
		storage.setItem('todos.lastOpened', 'not an id!');
		storage.setItem('todos.lists', '[]');
		assert.equal(new RecentLists(storage).homeId(), null);
	});

	test('new ids are automerge-repo document ids (128 random bits) and differ', async () => {
		const ids = new Set(await Promise.all(Array.from({ length: 50 }, () => newListId())));
		assert.equal(ids.size, 50);
		for (const id of ids) {
			assert.match(id, /^[A-Za-z0-9_-]{1,64}$/); // a list id
			assert.ok(isValidDocumentId(id), id); // and one that automerge-repo accepts
			assert.equal(documentIdToBinary(id).length, 16);
		}
	});

	test('where nothing can hash, new ids are 24 URL-safe characters (144 random bits)', async () => {
		const noSubtle = { getRandomValues: (bytes) => globalThis.crypto.getRandomValues(bytes) };
		const ids = new Set(await Promise.all(Array.from({ length: 50 }, () => newListId(noSubtle))));
		assert.equal(ids.size, 50);
		for (const id of ids) {
			assert.match(id, /^[A-Za-z0-9_-]{24}$/);
		}
	});

	test('list paths round-trip', () => {
		assert.equal(listPath('/', 'abc_-1'), '/lists/abc_-1/');
		assert.equal(docIdFromPath('/lists/abc_-1/'), 'abc_-1');
		assert.equal(docIdFromPath('/lists/'), null);
		assert.equal(docIdFromPath('/lists/a b/'), null);
	});
});

describe('templates', () => {
	test('user text is escaped', () => {
		assert.equal(escapeForHTML(`<img src=x onerror="a('b')">&\``), '&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;&#96;');
		const html = itemHTML({ id: '1@a', text: '<b>bold</b>', done: true });
		assert.ok(!html.includes('<b>'));
		assert.match(html, /class="completed"/);
		assert.match(html, / checked>/);
		assert.ok(!listLinksHTML([{ id: 'x', title: '<script>' }], 'x', (id) => `/lists/${id}/`).includes('<script>'));
	});

	test('the lists menu shows the title, or "Untitled list" and the first item, and when it changed', () => {
		const now = Date.UTC(2025, 2, 10, 12);
		const pathOf = (id) => `/lists/${id}/`;
		const html = listLinksHTML(
			[
				{ id: 'a', title: 'Groceries', firstItem: 'milk', changedAt: now - 5 * 60 * 1000 },
				{ id: 'b', title: '', firstItem: '<i>eggs</i>', changedAt: now - 30 * 1000 },
			],
			'b',
			pathOf,
			now
		);
		assert.match(html, /<a class="list-link" href="\/lists\/a\/"><span class="list-name">Groceries<\/span><time [^>]*>changed 5 minutes ago<\/time><\/a>/);
		assert.ok(!html.includes('>milk<'), 'a titled list shows no item');
		assert.match(html, /href="\/lists\/b\/" aria-current="page"><span class="list-name untitled">Untitled list<\/span><span class="list-first-item">&lt;i&gt;eggs&lt;\/i&gt;<\/span>/);
		assert.match(html, /datetime="2025-03-10T11:59:30.000Z"[^>]*>changed just now</);
		assert.match(html, /aria-label="Remove “Groceries” from this browser’s lists"/);
		assert.match(listLinksHTML([], null, pathOf), /lists-empty/);
	});

	test('change times read as people say them', () => {
		const now = Date.UTC(2025, 2, 10, 12);
		const minute = 60 * 1000;
		assert.equal(changedText(now + 5 * minute, now), 'just now');
		assert.equal(changedText(now - 59 * 1000, now), 'just now');
		assert.equal(changedText(now - minute, now), '1 minute ago');
		assert.equal(changedText(now - 3 * 60 * minute, now), '3 hours ago');
		assert.equal(changedText(now - 25 * 60 * minute, now), 'yesterday');
		assert.equal(changedText(now - 3 * 24 * 60 * minute, now), '3 days ago');
		assert.equal(changedText(Date.UTC(2024, 11, 25, 12), now), 'Dec 25, 2024');
	});

	test('the counter is pluralised and wraps the number in <strong>', () => {
		assert.equal(itemCounter(0), '<strong>0</strong> items left');
		assert.equal(itemCounter(1), '<strong>1</strong> item left');
		assert.equal(itemCounter(2), '<strong>2</strong> items left');
	});
});

describe('routes', () => {
	test('hashes name the TodoMVC filters; anything else shows all', () => {
		assert.equal(routeFromHash('#/'), '');
		assert.equal(routeFromHash(''), '');
		assert.equal(routeFromHash('#/active'), 'active');
		assert.equal(routeFromHash('#!/completed'), 'completed');
		assert.equal(routeFromHash('#/nonsense'), '');
	});

	test('filters keep the item being edited', () => {
		const items = [
			{ id: 'a', done: false },
			{ id: 'b', done: true },
		];
		assert.deepEqual(filterItems(items, 'active').map((item) => item.id), ['a']);
		assert.deepEqual(filterItems(items, 'completed').map((item) => item.id), ['b']);
		assert.deepEqual(filterItems(items, 'active', 'b').map((item) => item.id), ['a', 'b']);
	});
});
