/**
 * The bar above the list: the lists menu (the lists used in this browser) and
 * the sync status. The share control (share.js) and the undo buttons (view.js)
 * sit in it too but are their own.
 */

import { delegate, qs } from './dom.js';
import { listLinksHTML } from './template.js';

const ESCAPE_KEY = 'Escape';
const STATUS_TEXT = {
	connecting: 'Connecting…',
	saved: 'Saved on the server',
	saving: 'Saving…',
	offline: 'Offline',
	error: 'Not saved',
};

export class TopBar {
	/**
	 * @param {Document|Element} [root] Where the bar's elements are.
	 * @param {object} [options]
	 * @param {boolean} [options.readOnly] A view-only list: "Up to date", not "Saved".
	 */
	constructor(root = document, { readOnly = false } = {}) {
		this.readOnly = readOnly;
		this.$status = qs('.sync-status', root);
		this.$statusText = qs('.sync-status-text', root);
		this.$listLinks = qs('.list-links', root);
		this.$newList = qs('.new-list', root);
		this.$listsMenu = qs('.lists-menu details', root);
		this.closeMenuOnLeave();
	}

	// The lists menu closes on Escape (focus back on its summary) and when focus
	// or a click goes elsewhere, like a menu.
	closeMenuOnLeave() {
		const $menu = this.$listsMenu;
		$menu.addEventListener('keydown', (event) => {
			if (event.key === ESCAPE_KEY && $menu.open) {
				$menu.open = false;
				qs('summary', $menu).focus();
			}
		});
		$menu.addEventListener('focusout', (event) => {
			if (event.relatedTarget && !$menu.contains(event.relatedTarget)) {
				$menu.open = false;
			}
		});
		document.addEventListener('click', (event) => {
			// The path, not the target: a click on "remove" re-renders the menu
			// before the event gets here, so its target is no longer in it.
			if ($menu.open && !event.composedPath().includes($menu)) {
				$menu.open = false;
			}
		});
	}

	/** Show the sync status `{state, unsynced, message}`. */
	showSyncStatus({ state, unsynced, message }) {
		this.$status.dataset.state = state;
		this.$status.dataset.unsynced = String(unsynced);
		let text = STATUS_TEXT[state] || state;
		if (state === 'saved' && this.readOnly) {
			text = 'Up to date';
		} else if (state === 'ended') {
			text = message;
		} else if (state === 'offline') {
			text = unsynced ? 'Offline: changes kept on this device' : 'Offline';
		} else if (state === 'error') {
			text = `Not saved: ${message}`;
		}
		this.$statusText.textContent = text;
	}

	/** Show the lists used in this browser (see listLinksHTML), keeping focus in the menu. */
	showLists(lists, currentId, pathOf) {
		const html = listLinksHTML(lists, currentId, pathOf, Date.now());
		if (html === this.listsHTML) {
			return;
		}
		const $focused = this.$listLinks.contains(document.activeElement) ? document.activeElement : null;
		const focusedId = $focused && $focused.closest('li[data-id]')?.dataset.id;
		this.listsHTML = html;
		this.$listLinks.innerHTML = html;
		if (focusedId) {
			this.focusListEntry(focusedId, $focused.className);
		}
	}

	/** Focus the control of class `className` in list `id`'s menu entry; false if it is gone. */
	focusListEntry(id, className = 'list-link') {
		const $entry = [...this.$listLinks.children].find(($li) => $li.dataset.id === id);
		const $control = $entry && $entry.getElementsByClassName(className)[0];
		if ($control) {
			$control.focus();
		}
		return Boolean($control);
	}

	bindNewList(handler) {
		this.$newList.addEventListener('click', () => handler());
	}

	/** `handler()` when the lists menu opens (to show fresh times). */
	bindOpenLists(handler) {
		this.$listsMenu.addEventListener('toggle', () => {
			if (this.$listsMenu.open) {
				handler();
			}
		});
	}

	/** `handler(id)` when a list's remove button is pressed; focus moves to a neighbour. */
	bindRemoveList(handler) {
		delegate(this.$listLinks, '.list-remove', 'click', ($button) => {
			const $entry = $button.closest('li[data-id]');
			const $neighbour = $entry.nextElementSibling || $entry.previousElementSibling;
			handler($entry.dataset.id);
			if (!($neighbour && this.focusListEntry($neighbour.dataset.id, 'list-remove'))) {
				this.$newList.focus();
			}
		});
	}
}
