/**
 * The presence in the page: the "2 others here" line, the marks on items that
 * someone else is editing, and which item this tab edits.
 *
 * view.js stays as it is: a MutationObserver on the list hears when an item
 * enters or leaves edit mode (its `<li>` gains or loses the `editing` class)
 * and re-marks items that the view adds or replaces.
 */

import { presenceText } from './presence.js';

const ELSEWHERE = 'edited-elsewhere';
const ELSEWHERE_NOTE = 'Someone else is editing this';

export class PresenceView {
	/** @param {Document|Element} [root] Where the app's elements are. */
	constructor(root = document) {
		this.$line = root.querySelector('.presence');
		this.$list = root.querySelector('.todo-list');
		this.editing = new Set();
		this.ownEditing = null;
		this.onOwnEditing = () => {};
		new MutationObserver(() => this.listChanged()).observe(this.$list, {
			childList: true,
			subtree: true,
			attributes: true,
			attributeFilter: ['class'],
		});
	}

	/** Call `handler(id)` when this tab starts editing item `id` (null: stops). */
	bindOwnEditing(handler) {
		this.onOwnEditing = handler;
	}

	/** Show how many others are here and mark the items they edit. */
	show({ count, editing }) {
		this.$line.textContent = presenceText(count);
		this.$line.dataset.count = String(count);
		this.editing = editing;
		this.mark();
	}

	listChanged() {
		const id = this.$list.querySelector('li.editing')?.dataset.id ?? null;
		if (id !== this.ownEditing) {
			this.ownEditing = id;
			this.onOwnEditing(id);
		}
		this.mark();
	}

	// Idempotent, so the mutations it makes settle the observer at once.
	mark() {
		for (const $li of this.$list.querySelectorAll('li[data-id]')) {
			const elsewhere = this.editing.has($li.dataset.id);
			if ($li.classList.contains(ELSEWHERE) !== elsewhere) {
				$li.classList.toggle(ELSEWHERE, elsewhere);
			}
			const $note = $li.querySelector(':scope > .elsewhere-note');
			if (elsewhere && !$note) {
				const $new = document.createElement('span');
				$new.className = 'elsewhere-note';
				$new.textContent = ELSEWHERE_NOTE;
				$li.appendChild($new);
			} else if (!elsewhere && $note) {
				$note.remove();
			}
		}
	}
}
