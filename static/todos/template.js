/**
 * HTML for the parts of the page made from user text; every such text is escaped.
 */

const HTML_ESCAPES = {
	'&': '&amp;',
	'<': '&lt;',
	'>': '&gt;',
	'"': '&quot;',
	"'": '&#39;',
	'`': '&#96;',
};

/** `text` with the characters that mean something in HTML replaced by entities. */
export function escapeForHTML(text) {
	return String(text).replace(/[&<>"'`]/g, (character) => HTML_ESCAPES[character]);
}

/** The words that say, to a screen reader, whether a read-only item is done. */
export function doneState(done) {
	return done ? 'Completed: ' : '';
}

/**
 * One todo item: `<li>` with its toggle, label and delete button; `readOnly`
 * (a view-only link): its text and whether it is done, and no controls.
 */
export function itemHTML({ id, text, done }, readOnly = false) {
	const safeText = escapeForHTML(text);
	if (readOnly) {
		return `<li data-id="${escapeForHTML(id)}"${done ? ' class="completed"' : ''}>
	<div class="view"><span class="visually-hidden done-state">${doneState(done)}</span><label>${safeText}</label></div>
</li>`;
	}
	return `<li data-id="${escapeForHTML(id)}"${done ? ' class="completed"' : ''}>
	<div class="view">
		<input class="toggle" type="checkbox" aria-label="Completed: ${safeText}"${done ? ' checked' : ''}>
		<label tabindex="0" title="Double-click or press Enter to edit">${safeText}</label>
		<button type="button" class="destroy" aria-label="Delete: ${safeText}"></button>
	</div>
</li>`;
}

/** The counter: the number of active items in `<strong>`, "item" pluralised. */
export function itemCounter(active) {
	return `<strong>${Number(active)}</strong> ${active === 1 ? 'item' : 'items'} left`;
}

const MINUTE_MS = 60 * 1000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const RELATIVE_TIME = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const DATE = new Intl.DateTimeFormat('en', { day: 'numeric', month: 'short', year: 'numeric' });
const DATE_TIME = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' });

/** When something changed, said as people say it: "just now", "5 minutes ago", "yesterday", "3 Mar 2025". */
export function changedText(changedAt, now = Date.now()) {
	const ago = now - changedAt;
	if (ago < MINUTE_MS) {
		return 'just now'; // also a clock a little ahead of ours
	}
	if (ago < HOUR_MS) {
		return RELATIVE_TIME.format(-Math.floor(ago / MINUTE_MS), 'minute');
	}
	if (ago < DAY_MS) {
		return RELATIVE_TIME.format(-Math.floor(ago / HOUR_MS), 'hour');
	}
	if (ago < 7 * DAY_MS) {
		return RELATIVE_TIME.format(-Math.floor(ago / DAY_MS), 'day');
	}
	return DATE.format(changedAt);
}

/**
 * The entries of the lists menu: each list's title (or "Untitled list" and its
 * first item) and when it last changed, a link marked `aria-current` for the
 * current list, and a button that removes it from the menu.
 */
export function listLinksHTML(lists, currentId, pathOf, now = Date.now()) {
	if (lists.length === 0) {
		return '<li class="lists-empty">Lists show here once they have a title or an item.</li>';
	}
	return lists
		.map(({ id, title, firstItem, changedAt }) => {
			const current = id === currentId ? ' aria-current="page"' : '';
			const name = title
				? `<span class="list-name">${escapeForHTML(title)}</span>`
				: `<span class="list-name untitled">Untitled list</span>${firstItem ? `<span class="list-first-item">${escapeForHTML(firstItem)}</span>` : ''}`;
			const changed = Number.isFinite(changedAt) && changedAt > 0
				? `<time class="list-changed" datetime="${new Date(changedAt).toISOString()}" title="${DATE_TIME.format(changedAt)}">changed ${changedText(changedAt, now)}</time>`
				: '';
			const label = escapeForHTML(title || firstItem || 'Untitled list');
			return `<li class="list-entry" data-id="${escapeForHTML(id)}">
	<a class="list-link" href="${escapeForHTML(pathOf(id))}"${current}>${name}${changed}</a>
	<button type="button" class="list-remove" aria-label="Remove “${label}” from this browser’s lists" title="Remove from this browser’s lists (the list itself is kept)"></button>
</li>`;
		})
		.join('');
}
