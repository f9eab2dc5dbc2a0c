/**
 * The share control's two links: the edit link and the view-only link.
 *
 * `ShareLinks` asks the server (todos/sharing.py) for the list's view-only link,
 * makes a new one, turns it off, or replaces the edit link; `SharePanel` owns
 * the panel's DOM (templates/todos/share_panel.html) and reports what the
 * person does through `bind*` hooks. Every list gets a view-only link the first
 * time its panel opens; one its owner turned off stays off until they make a
 * new one.
 */

const ESCAPE_KEY = 'Escape';
const COPIED_NOTE_MS = 4000;
const NOT_FOUND = 404;
const OFFLINE_NOTE = 'The view-only link needs a connection to the server: try again when online.';

/** The server refused a link request: `status` is its HTTP status. */
export class LinkRefused extends Error {
	constructor(status, message) {
		super(message);
		this.status = status;
	}
}

export class ShareLinks {
	/**
	 * @param {object} options
	 * @param {string} options.httpBase The site root, e.g. 'http://host/'.
	 * @param {string} options.docId The list's edit id.
	 * @param {function} [options.fetch] The fetch function.
	 */
	constructor({ httpBase, docId, fetch = globalThis.fetch }) {
		this.docUrl = `${httpBase}docs/${docId}`;
		this.fetch = fetch.bind(globalThis);
	}

	/** The list's view-only link `{token, url}`, made now if it never had one; null if turned off. */
	async viewLink() {
		try {
			return await this.request('GET', '/view-link');
		} catch (error) {
			if (error instanceof LinkRefused && error.status === NOT_FOUND && !error.turnedOff) {
				return this.newViewLink();
			}
			if (error instanceof LinkRefused && error.turnedOff) {
				return null;
			}
			throw error;
		}
	}

	/** A new view-only link `{token, url}`; the old one stops working. */
	newViewLink() {
		return this.request('POST', '/view-link');
	}

	/** Turn the view-only link off. */
	turnOffViewLink() {
		return this.request('DELETE', '/view-link');
	}

	/** Move the list to a new edit id: resolves to `{doc_id, url}`. */
	replaceEditLink() {
		return this.request('POST', '/rotate');
	}

	async request(method, path) {
		const response = await this.fetch(this.docUrl + path, { method, cache: 'no-store' });
		const body = await response.json().catch(() => ({}));
		if (!response.ok) {
			const refusal = new LinkRefused(response.status, body.error || response.statusText);
			refusal.turnedOff = Boolean(body.turned_off);
			throw refusal;
		}
		return body;
	}
}

export class SharePanel {
	constructor(root = document) {
		this.$toggle = root.querySelector('.share');
		this.$sharedNote = root.querySelector('.share-note');
		this.$sharedUrl = root.querySelector('.share-url');
		this.$box = root.querySelector('.share-box');
		this.$panel = root.querySelector('.share-panel');
		this.$editLink = root.querySelector('.edit-link');
		this.$viewLink = root.querySelector('.view-link');
		this.$copyView = root.querySelector('.copy-view-link');
		this.$turnOff = root.querySelector('.turn-off-view-link');
		this.$note = root.querySelector('.share-panel-note');
		this.$newView = root.querySelector('.new-view-link');
		root.querySelector('.copy-edit-link').addEventListener('click', () => this.copy(this.$editLink));
		this.$copyView.addEventListener('click', () => this.copy(this.$viewLink));
		this.closeOnLeave();
	}

	get isOpen() {
		return !this.$panel.hidden;
	}

	/** `handler()` when the Share button is pressed. */
	bindShare(handler) {
		this.$toggle.addEventListener('click', () => handler());
	}

	/** Say whether the share link was copied; show it to copy by hand if not. */
	showShared(url, copied) {
		this.$sharedUrl.value = url;
		this.$sharedUrl.hidden = copied;
		this.$sharedNote.textContent = copied ? 'Link copied: send it to share this list.' : 'Copy this link to share the list:';
		if (!copied) {
			this.$sharedUrl.focus();
			this.$sharedUrl.select();
		}
		clearTimeout(this.sharedTimer);
		if (copied) {
			this.sharedTimer = setTimeout(() => {
				this.$sharedNote.textContent = '';
			}, COPIED_NOTE_MS);
		}
	}

	/** Show the panel with the edit link `editUrl`. */
	open(editUrl) {
		this.$editLink.value = editUrl;
		this.$panel.hidden = false;
		this.$toggle.setAttribute('aria-expanded', 'true');
	}

	close() {
		this.$panel.hidden = true;
		this.$toggle.setAttribute('aria-expanded', 'false');
	}

	/** Show the view-only link `{url}`, or that there is none (`null`: turned off). */
	showViewLink(link) {
		const $focused = document.activeElement;
		this.$viewLink.value = link ? link.url : '';
		this.$copyView.disabled = !link;
		this.$turnOff.disabled = !link;
		// A button that goes disabled drops the focus to the page: keep it in the panel.
		if (!link && ($focused === this.$turnOff || $focused === this.$copyView)) {
			this.$newView.focus();
		}
	}

	/** Say what happened (or what went wrong) under the links. */
	showNote(text) {
		this.$note.textContent = text;
	}

	/** Say that a request for a link failed: offline, or the server's reason. */
	showFailure(error) {
		this.showNote(error instanceof LinkRefused ? error.message : OFFLINE_NOTE);
	}

	bindNewViewLink(handler) {
		this.$newView.addEventListener('click', () => handler());
	}

	bindTurnOffViewLink(handler) {
		this.$turnOff.addEventListener('click', () => handler());
	}

	bindReplaceEditLink(handler) {
		this.$panel.querySelector('.rotate-edit-link').addEventListener('click', () => handler());
	}

	// Copy a link: by the clipboard where there is one, else leave it selected.
	async copy($input) {
		const copied = await navigator.clipboard?.writeText($input.value).then(
			() => true,
			() => false
		);
		$input.focus();
		$input.select();
		this.showNote(copied ? 'Copied.' : 'Press Ctrl+C (or ⌘C) to copy the selected link.');
	}

	// The panel closes on Escape and when a click lands outside the share control.
	// The focus goes back to the Share button unless it is elsewhere on the page.
	closeOnLeave() {
		document.addEventListener('keydown', (event) => {
			if (event.key !== ESCAPE_KEY || !this.isOpen) {
				return;
			}
			const $focused = document.activeElement;
			this.close();
			if (!$focused || $focused === document.body || this.$box.contains($focused)) {
				this.$toggle.focus();
			}
		});
		document.addEventListener('click', (event) => {
			if (this.isOpen && !event.composedPath().includes(this.$box)) {
				this.close();
			}
		});
	}
}
