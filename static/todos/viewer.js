/**
 * Wires the read-only app of a view-only link (`/view/<token>/`): the store, a
 * read-only view and controller, a read-only sync, presence (counted, never
 * editing) and the offline shell.
 *
 * The page knows the list only by its view-only token: this browser keeps its
 * copy under `view:<token>` (never the edit id, which it does not know), syncs
 * by `/shared/<token>` and `/ws/shared/<token>`, and leaves the list out of the
 * lists menu, whose entries are edit links.
 */

import * as Automerge from '../vendor/automerge/mjs/entrypoints/slim.js';
import { Controller } from './controller.js';
import { todoDocument } from './doc.js';
import { RecentLists, listPath, newListId, viewTokenFromPath } from './lists.js';
import { VIEW_SHELL_KEY, enableOffline } from './offline.js';
import { openStorage } from './persistence.js';
import { Presence } from './presence.js';
import { PresenceView } from './presence_view.js';
import { Store, channelName } from './store.js';
import { Sync } from './sync.js';
import { TopBar } from './topbar.js';
import { View } from './view.js';

const $app = document.querySelector('.todoapp');
const { root, wasmUrl, swUrl, staticUrl, aboutUrl, viewError } = $app.dataset;
const token = viewTokenFromPath(location.pathname) || $app.dataset.viewToken;
const localId = `view:${token}`;
const view = new View(document, { readOnly: true });
const bar = new TopBar(document, { readOnly: true });
const recent = new RecentLists();

async function main() {
	if (viewError) {
		view.showFailure(viewError);
		return;
	}
	await Automerge.initializeWasm(fetch(wasmUrl));
	const todos = todoDocument(Automerge);
	const channel = 'BroadcastChannel' in globalThis ? new BroadcastChannel(channelName(localId)) : null;
	const store = await new Store({ Automerge, docId: localId, create: todos.create, storage: await openStorage(), channel }).open();
	const controller = new Controller({ store, view, todos, readOnly: true });

	const base = new URL(root, location.href);
	const sync = new Sync({
		store,
		docId: localId,
		viewToken: token,
		initialHeads: todos.initialHeads(),
		httpBase: base.href,
		wsBase: base.href.replace(/^http/, 'ws'),
	});
	sync.onStatus((status) => bar.showSyncStatus(status));
	const presence = new Presence({ send: (frame) => sync.sendPresence(frame) });
	const presenceView = new PresenceView();
	sync.onPresence((event) => presence.received(event));
	presence.onChange((state) => presenceView.show(state));

	const pathOf = (id) => listPath(root, id);
	bar.bindNewList(() => location.assign(pathOf(newListId())));
	bar.bindOpenLists(() => bar.showLists(recent.all(), null, pathOf));
	window.addEventListener('hashchange', () => controller.setRoute(location.hash));
	window.addEventListener('online', () => sync.retry());
	window.addEventListener('offline', () => sync.wentOffline());
	document.addEventListener('visibilitychange', () => {
		if (document.visibilityState === 'visible') {
			sync.retry();
			presence.announce();
		}
	});

	controller.setRoute(location.hash);
	view.ready();
	sync.start();
	document.documentElement.dataset.ready = 'true';
	window.todos = { store, sync, todos, presence };

	enableOffline(swUrl, staticUrl, root, aboutUrl, VIEW_SHELL_KEY).then(
		(enabled) => {
			document.documentElement.dataset.offlineReady = String(enabled);
		},
		(error) => console.warn('This list will not open without the server:', error)
	);
}

main().catch((error) => {
	console.error(error);
	view.showFailure(`The list could not open: ${error.message}. Reload the page to try again.`);
});
