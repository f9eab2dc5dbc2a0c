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
		new MutationObserver((records) => this.listChanged(records)).observe(this.$list, {
			childList: true,
			subtree: true,
			attributes: true,
			attributeOldValue: true,
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

	// Only the <li>s the records name are looked at, so a push that adds one item
	// costs one item here, not the list.
	listChanged(records) {
		let editingMoved = false;
		const $added = new Set();
		for (const { type, target, oldValue, addedNodes, removedNodes } of records) {
			if (type === 'attributes') {
				editingMoved ||= wasEditing(oldValue) !== target.classList.contains('editing');
			} else if (target === this.$list) {
				editingMoved ||= [...removedNodes].some(($node) => $node.classList?.contains('editing'));
				addedNodes.forEach(($node) => $added.add($node));
			}
		}
		if (editingMoved) {
			const id = this.$list.querySelector('li.editing')?.dataset.id ?? null;
			if (id !== this.ownEditing) {
				this.ownEditing = id;
				this.onOwnEditing(id);
			}
		}
		for (const $li of $added) {
			if ($li.isConnected && $li.dataset?.id) {
				this.markItem($li);
			}
		}
	}

	// Idempotent, so the mutations it makes settle the observer at once.
	mark() {
		for (const $li of this.$list.querySelectorAll('li[data-id]')) {
			this.markItem($li);
		}
	}

	markItem($li) {
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

function wasEditing(className) {
	return ` ${className || ''} `.includes(' editing ');
}
