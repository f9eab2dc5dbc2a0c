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

/** One todo item: `<li>` with its toggle, label and delete button. */
export function itemHTML({ id, text, done }) {
	const safeText = escapeForHTML(text);
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

/** The links of the lists menu; the current list is marked. */
export function listLinksHTML(lists, currentId, pathOf) {
	return lists
		.map(({ id, title }) => {
			const current = id === currentId ? ' aria-current="page"' : '';
			const name = title ? escapeForHTML(title) : `Untitled list <span class="list-id">${escapeForHTML(id.slice(0, 6))}</span>`;
			return `<li><a href="${escapeForHTML(pathOf(id))}"${current}>${name}</a></li>`;
		})
		.join('');
}
