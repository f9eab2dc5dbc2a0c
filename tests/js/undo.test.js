/** Tests of static/todos/undo.js: undo and redo over real Automerge documents and stores. */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryStorage } from '../../static/todos/persistence.js';
import { Store } from '../../static/todos/store.js';
import { UndoHistory, undoOperations, undoShortcut } from '../../static/todos/undo.js';
import { Automerge, todos } from './helpers.js';

const operations = undoOperations(Automerge);
const texts = (doc) => todos.items(doc).map((item) => item.text);
const idOf = (doc, text) => todos.items(doc).find((item) => item.text === text).id;

/** A tab: a store on its own memory storage, and its undo history. */
async function openTab(docId = 'list') {
	const store = await new Store({ Automerge, docId, create: todos.create, storage: new MemoryStorage() }).open();
	return { store, undo: new UndoHistory({ store, operations }) };
}

/** Give `to` everything `from` has (a sync, without the network). */
function syncInto(to, from) {
	to.store.merge(Automerge.save(from.store.doc), 'server');
}

describe('undo of each kind of own edit', () => {
	test('undoing an add deletes the item; redo adds it back', async () => {
		const { store, undo } = await openTab();
		undo.change((doc) => todos.addItem(doc, 'milk'));
		undo.change((doc) => todos.addItem(doc, 'eggs'));
		assert.equal(undo.undo(), true);
		assert.deepEqual(texts(store.doc), ['milk']);
		assert.equal(undo.redo(), true);
		assert.deepEqual(texts(store.doc), ['milk', 'eggs']);
	});

	test('undoing a delete puts the item back in its place with its text and done', async () => {
		const { store, undo } = await openTab();
		for (const text of ['a', 'b', 'c']) {
			undo.change((doc) => todos.addItem(doc, text));
		}
		undo.change((doc) => todos.setDone(doc, idOf(doc, 'b'), true));
		undo.change((doc) => todos.removeItem(doc, idOf(doc, 'b')));
		assert.deepEqual(texts(store.doc), ['a', 'c']);
		undo.undo();
		assert.deepEqual(todos.items(store.doc).map(({ text, done }) => [text, done]), [
			['a', false],
			['b', true],
			['c', false],
		]);
	});

	test('undoing a toggle, toggle-all and clear completed restores each state in turn', async () => {
		const { store, undo } = await openTab();
		undo.change((doc) => todos.addItem(doc, 'a'));
		undo.change((doc) => todos.addItem(doc, 'b'));
		undo.change((doc) => todos.setDone(doc, idOf(doc, 'a'), true));
		undo.change((doc) => todos.setAllDone(doc, true));
		undo.change((doc) => todos.clearCompleted(doc));
		assert.deepEqual(texts(store.doc), []);
		undo.undo();
		assert.deepEqual(todos.counts(store.doc), { total: 2, active: 0, completed: 2 });
		assert.deepEqual(texts(store.doc), ['a', 'b']);
		undo.undo();
		assert.deepEqual(todos.items(store.doc).map((item) => item.done), [true, false]);
		undo.undo();
		assert.deepEqual(todos.items(store.doc).map((item) => item.done), [false, false]);
	});

	test('undoing a text edit and a rename restores the old text', async () => {
		const { store, undo } = await openTab();
		undo.change((doc) => todos.addItem(doc, 'milk'));
		undo.change((doc) => todos.editText(doc, idOf(doc, 'milk'), 'oat milk'));
		undo.change((doc) => todos.setTitle(doc, 'Groceries'));
		undo.undo();
		assert.equal(todos.title(store.doc), '');
		undo.undo();
		assert.deepEqual(texts(store.doc), ['milk']);
		undo.redo();
		undo.redo();
		assert.deepEqual(texts(store.doc), ['oat milk']);
		assert.equal(todos.title(store.doc), 'Groceries');
	});

	test('undoing an edit between emoji that share UTF-16 units restores them whole', async () => {
		const { store, undo } = await openTab();
		undo.change((doc) => todos.addItem(doc, 'go 😀 now'));
		undo.change((doc) => todos.editText(doc, idOf(doc, 'go 😀 now'), 'go 😁 now'));
		undo.undo();
		assert.deepEqual(texts(store.doc), ['go 😀 now']);
		undo.redo();
		assert.deepEqual(texts(store.doc), ['go 😁 now']);
	});

	test('undo and redo walk back and forth through many edits to the same item', async () => {
		const { store, undo } = await openTab();
		undo.change((doc) => todos.addItem(doc, 'a'));
		const id = idOf(store.doc, 'a');
		undo.change((doc) => todos.setDone(doc, id, true));
		undo.change((doc) => todos.editText(doc, id, 'b'));
		undo.change((doc) => todos.removeItem(doc, id));
		const states = [];
		const show = () => todos.items(store.doc).map(({ text, done }) => `${text}:${done}`).join();
		while (undo.state().canUndo) {
			states.push(show());
			undo.undo();
		}
		assert.deepEqual(states, ['', 'b:true', 'a:true', 'a:false']);
		assert.equal(show(), '');
		const redone = [];
		while (undo.state().canRedo) {
			undo.redo();
			redone.push(show());
		}
		assert.deepEqual(redone, ['a:false', 'a:true', 'b:true', '']);
	});
});

describe('undo keeps what others did', () => {
	test('A adds, B edits another item, A undoes: B edit stays', async () => {
		const a = await openTab();
		const b = await openTab();
		a.undo.change((doc) => todos.addItem(doc, 'bread'));
		syncInto(b, a);
		a.undo.change((doc) => todos.addItem(doc, 'milk'));
		b.undo.change((doc) => todos.editText(doc, idOf(doc, 'bread'), 'rye bread'));
		syncInto(a, b);
		assert.deepEqual(texts(a.store.doc), ['rye bread', 'milk']);
		a.undo.undo();
		assert.deepEqual(texts(a.store.doc), ['rye bread']);
		syncInto(b, a);
		assert.deepEqual(texts(b.store.doc), ['rye bread']);
	});

	test('undoing a text edit keeps what someone else typed elsewhere in it since', async () => {
		const a = await openTab();
		const b = await openTab();
		a.undo.change((doc) => todos.addItem(doc, 'buy milk'));
		a.undo.change((doc) => todos.editText(doc, idOf(doc, 'buy milk'), 'buy oat milk'));
		syncInto(b, a);
		b.undo.change((doc) => todos.editText(doc, idOf(doc, 'buy oat milk'), 'please buy oat milk today'));
		syncInto(a, b);
		a.undo.undo();
		assert.deepEqual(texts(a.store.doc), ['please buy milk today']);
	});

	test('undoing an append keeps text someone else appended after it', async () => {
		const a = await openTab();
		const b = await openTab();
		a.undo.change((doc) => todos.setTitle(doc, 'Shop'));
		a.undo.change((doc) => todos.setTitle(doc, 'Shopping'));
		syncInto(b, a);
		b.undo.change((doc) => todos.setTitle(doc, 'Shopping!'));
		syncInto(a, b);
		a.undo.undo();
		assert.equal(todos.title(a.store.doc), 'Shop!');
	});

	test('a toggle someone else changed since is left as they set it', async () => {
		const a = await openTab();
		const b = await openTab();
		a.undo.change((doc) => todos.addItem(doc, 'milk'));
		a.undo.change((doc) => todos.setDone(doc, idOf(doc, 'milk'), true));
		syncInto(b, a);
		b.undo.change((doc) => todos.setDone(doc, idOf(doc, 'milk'), false));
		syncInto(a, b);
		const heads = a.store.heads();
		// The toggle is void (B owns the state now), so undo goes on to the add.
		assert.equal(a.undo.undo(), true);
		assert.notDeepEqual(a.store.heads(), heads);
		assert.deepEqual(texts(a.store.doc), []);
	});

	test('undoing an edit to an item someone else deleted changes nothing and says so', async () => {
		const a = await openTab();
		const b = await openTab();
		a.undo.change((doc) => todos.addItem(doc, 'milk'));
		syncInto(b, a);
		b.undo.change((doc) => todos.removeItem(doc, idOf(doc, 'milk')));
		syncInto(a, b);
		const heads = a.store.heads();
		// The add is the only entry; what it added is gone already.
		assert.equal(a.undo.undo(), false);
		assert.deepEqual(a.store.heads(), heads);
		assert.deepEqual(a.undo.state(), { canUndo: false, canRedo: false });
	});

	test('changes from elsewhere leave the stacks alone; a new own edit empties redo', async () => {
		const a = await openTab();
		const b = await openTab();
		a.undo.change((doc) => todos.addItem(doc, 'a'));
		a.undo.change((doc) => todos.addItem(doc, 'b'));
		a.undo.undo();
		b.undo.change((doc) => todos.addItem(doc, 'from b'));
		syncInto(a, b);
		assert.deepEqual(a.undo.state(), { canUndo: true, canRedo: true });
		a.undo.change((doc) => todos.addItem(doc, 'c'));
		assert.deepEqual(a.undo.state(), { canUndo: true, canRedo: false });
		assert.equal(a.undo.redo(), false);
	});
});

describe('an item deleted and made again', () => {
	test('older entries follow it to its new id', async () => {
		const { store, undo } = await openTab();
		undo.change((doc) => todos.addItem(doc, 'milk'));
		undo.change((doc) => todos.setDone(doc, idOf(doc, 'milk'), true));
		undo.change((doc) => todos.removeItem(doc, idOf(doc, 'milk')));
		undo.undo(); // made again, with a new id
		undo.undo(); // the toggle, on the new item
		assert.deepEqual(todos.items(store.doc).map(({ text, done }) => [text, done]), [['milk', false]]);
		undo.undo(); // the add
		assert.deepEqual(texts(store.doc), []);
	});

	test('clear completed of neighbours puts them back in order', async () => {
		const { store, undo } = await openTab();
		for (const text of ['a', 'b', 'c', 'd']) {
			undo.change((doc) => todos.addItem(doc, text));
		}
		undo.change((doc) => todos.setDone(doc, idOf(doc, 'b'), true));
		undo.change((doc) => todos.setDone(doc, idOf(doc, 'c'), true));
		undo.change((doc) => todos.clearCompleted(doc));
		assert.deepEqual(texts(store.doc), ['a', 'd']);
		undo.undo();
		assert.deepEqual(texts(store.doc), ['a', 'b', 'c', 'd']);
	});
});

describe('the stacks', () => {
	test('keep at most the limit of entries', async () => {
		const { store } = await openTab();
		const undo = new UndoHistory({ store, operations, limit: 2 });
		for (const text of ['a', 'b', 'c']) {
			undo.change((doc) => todos.addItem(doc, text));
		}
		undo.undo();
		undo.undo();
		assert.equal(undo.undo(), false);
		assert.deepEqual(texts(store.doc), ['a']);
	});

	test('tell subscribers when undo or redo becomes possible', async () => {
		const { undo } = await openTab();
		const seen = [];
		undo.subscribe((state) => seen.push(state));
		undo.change((doc) => todos.addItem(doc, 'a'));
		undo.undo();
		assert.deepEqual(seen, [
			{ canUndo: true, canRedo: false },
			{ canUndo: false, canRedo: true },
		]);
	});

	test('an edit that changes nothing is not remembered', async () => {
		const { undo } = await openTab();
		assert.equal(
			undo.change((doc) => todos.addItem(doc, '   ')),
			false
		);
		assert.deepEqual(undo.state(), { canUndo: false, canRedo: false });
	});
});

describe('undoShortcut', () => {
	const press = (key, modifiers = {}) => undoShortcut({ key, code: '', ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, ...modifiers });

	test('reads Ctrl/Cmd+Z as undo and Ctrl/Cmd+Shift+Z and Ctrl+Y as redo', () => {
		assert.equal(press('z', { ctrlKey: true }), 'undo');
		assert.equal(press('z', { metaKey: true }), 'undo');
		assert.equal(press('Z', { ctrlKey: true, shiftKey: true }), 'redo');
		assert.equal(press('Z', { metaKey: true, shiftKey: true }), 'redo');
		assert.equal(press('y', { ctrlKey: true }), 'redo');
	});

	test('ignores other keys and Alt combinations', () => {
		assert.equal(press('z'), null);
		assert.equal(press('a', { ctrlKey: true }), null);
		assert.equal(press('z', { ctrlKey: true, altKey: true }), null);
		assert.equal(press('y', { metaKey: true }), null);
	});

	test('finds Z by its place on keyboards without Latin letters', () => {
		assert.equal(undoShortcut({ key: 'я', code: 'KeyZ', ctrlKey: true, metaKey: false, shiftKey: false, altKey: false }), 'undo');
	});
});
