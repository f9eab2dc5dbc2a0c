/** Tests of static/todos/lists.js, template.js and the routes of controller.js. */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { filterItems, routeFromHash } from '../../static/todos/controller.js';
import { docIdFromPath, knownLists, listPath, newListId, rememberList, retitleList } from '../../static/todos/lists.js';
import { escapeForHTML, itemCounter, itemHTML, listLinksHTML } from '../../static/todos/template.js';

class FakeLocalStorage {
	constructor() {
		this.values = new Map();
	}
	getItem(key) {
		return this.values.has(key) ? this.values.get(key) : null;
	}
	setItem(key, value) {
		this.values.set(key, String(value));
	}
}

describe('the lists opened in this browser', () => {
	test('the last opened list comes first, each once', () => {
		const storage = new FakeLocalStorage();
		rememberList('a', 'A', storage, 1);
		rememberList('b', '', storage, 2);
		rememberList('a', 'A', storage, 3);
		assert.deepEqual(knownLists(storage).map((list) => list.id), ['a', 'b']);
	});

	test('retitling keeps the order', () => {
		const storage = new FakeLocalStorage();
		rememberList('a', 'A', storage);
		rememberList('b', 'B', storage);
		retitleList('a', 'Renamed', storage);
		assert.deepEqual(knownLists(storage).map((list) => [list.id, list.title]), [
			['b', 'B'],
			['a', 'Renamed'],
		]);
	});

	test('damaged storage reads as no lists', () => {
		const storage = new FakeLocalStorage();
		storage.setItem('todos.lists', '{not json');
		assert.deepEqual(knownLists(storage), []);
	});

	test('new ids are 24 URL-safe characters (144 random bits) and differ', () => {
		const ids = new Set(Array.from({ length: 50 }, () => newListId()));
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
