/** Tests of static/todos/history_panel.js's HTML: user text is escaped, the entry says where it came from. */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { historyEntryHTML, versionItemHTML } from '../../static/todos/history_panel.js';

const HOSTILE = '<img src=x onerror="alert(1)">`\'&';

describe('a history entry', () => {
	test('escapes the words, which hold item text', () => {
		const html = historyEntryHTML({ hash: 'ab"cd', text: `added “${HOSTILE}”`, time: 1_700_000_000_000, own: false });
		assert.ok(!html.includes('<img'), html);
		assert.ok(html.includes('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#96;&#39;&amp;'), html);
		assert.ok(html.includes('data-hash="ab&quot;cd"'), html);
	});

	test('says whether the change came from this browser, and when', () => {
		const now = Date.UTC(2026, 0, 10, 12);
		const own = historyEntryHTML({ hash: 'a', text: 'added “milk”', time: now - 5 * 60 * 1000, own: true }, now);
		const other = historyEntryHTML({ hash: 'b', text: 'added “tea”', time: now, own: false }, now);
		assert.match(own, /5 minutes ago<\/time> · <span class="history-origin">this browser</);
		assert.match(other, /just now<\/time> · <span class="history-origin">elsewhere</);
		assert.match(own, /datetime="2026-01-10T11:55:00.000Z"/);
	});

	test('says so when a change has no time', () => {
		assert.match(historyEntryHTML({ hash: 'a', text: 'x', time: 0, own: false }), /at an unknown time/);
	});
});

describe('an item of a past version', () => {
	test('escapes its text in the label and the Restore button', () => {
		const html = versionItemHTML({ id: '1@aa', text: HOSTILE, done: false, deletedHere: true, restorable: true }, false);
		assert.ok(!html.includes('<img'), html);
		assert.match(html, /aria-label="Restore “&lt;img src=x onerror=&quot;alert\(1\)&quot;&gt;&#96;&#39;&amp;”"/);
		assert.match(html, /\(not done, deleted by this change\)/);
	});

	test('has a Restore button only while it is gone and not restored yet', () => {
		const item = { id: '1@aa', text: 'bread', done: true, deletedHere: false, restorable: true };
		assert.match(versionItemHTML(item, false), /class="history-restore"/);
		assert.doesNotMatch(versionItemHTML({ ...item, restorable: false }, false), /history-restore/);
		assert.match(versionItemHTML(item, true), /<span class="history-restored">restored<\/span>/);
		assert.doesNotMatch(versionItemHTML(item, true), /<button/);
	});
});
