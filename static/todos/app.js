/**
 * Wires the app together: Automerge, the store, the view, the controller, the
 * network, presence, the lists menu, the share control and the offline shell.
 * No logic of its own lives here.
 */

// Automerge's slim entry, by its static path (todos/ and vendor/ share the static
// root): a relative import needs no inline import map, which the page's
// Content-Security-Policy would refuse.
import * as Automerge from '../vendor/automerge/mjs/entrypoints/slim.js';
import { Controller } from './controller.js';
import { todoDocument } from './doc.js';
import { OwnActors } from './history.js';
import { HistoryPanel } from './history_panel.js';
import { RecentLists, docIdFromPath, listPath, newListId } from './lists.js';
import { enableOffline } from './offline.js';
import { openStorage } from './persistence.js';
import { Presence } from './presence.js';
import { PresenceView } from './presence_view.js';
import { SharePanel, ShareLinks } from './share.js';
import { Store, channelName } from './store.js';
import { Sync } from './sync.js';
import { UndoHistory, undoOperations } from './undo.js';
import { TopBar } from './topbar.js';
import { View } from './view.js';

const $app = document.querySelector('.todoapp');
const { root, wasmUrl, swUrl, staticUrl, aboutUrl } = $app.dataset;
const docId = docIdFromPath(location.pathname) || $app.dataset.docId;
const REPLACE_QUESTION =
	'Replace the edit link? The current link stops working for everyone who has it; copies of this list open right now move to the new link.';
const view = new View();
const bar = new TopBar();
const recent = new RecentLists();
recent.opened(docId);
view.linkHowItWorks(docId);

async function main() {
	await Automerge.initializeWasm(fetch(wasmUrl));
	const todos = todoDocument(Automerge);
	const channel = 'BroadcastChannel' in globalThis ? new BroadcastChannel(channelName(docId)) : null;
	const store = await new Store({ Automerge, docId, create: todos.create, storage: await openStorage(), channel }).open();

	const pathOf = (id) => listPath(root, id);
	const showLists = (lists) => bar.showLists(lists, docId, pathOf);
	const markUsed = () => showLists(recent.used(docId));
	const undo = new UndoHistory({ store, operations: undoOperations(Automerge) });
	const controller = new Controller({
		store,
		view,
		todos,
		undo,
		onSummary: (summary) => showLists(recent.update(docId, summary)),
		onChange: markUsed, // the list edited last is the one '/' opens
	});

	const historyPanel = new HistoryPanel({ Automerge, store, todos, change: (mutate) => controller.change(mutate), ownActors: new OwnActors() });

	const base = new URL(root, location.href);
	const sync = new Sync({
		store,
		docId,
		initialHeads: todos.initialHeads(),
		httpBase: base.href,
		wsBase: base.href.replace(/^http/, 'ws'),
	});
	sync.onStatus((status) => bar.showSyncStatus(status));
	const presence = new Presence({ send: (frame) => sync.sendPresence(frame) });
	const presenceView = new PresenceView();
	sync.onPresence((event) => presence.received(event));
	presence.onChange((state) => presenceView.show(state));
	presenceView.bindOwnEditing((id) => presence.setEditing(id));

	const share = new SharePanel();
	share.bindShare(async () => {
		if (share.isOpen) {
			share.close();
			return;
		}
		const url = new URL(pathOf(docId), location.href).href;
		const copied = await navigator.clipboard?.writeText(url).then(() => true, () => false);
		share.showShared(url, Boolean(copied));
		share.open(url);
		showViewLink(() => links.viewLink(), '');
	});
	const links = new ShareLinks({ httpBase: base.href, docId });
	const showViewLink = async (request, note) => {
		try {
			share.showViewLink(await request());
			share.showNote(note);
		} catch (error) {
			share.showFailure(error);
		}
	};
	share.bindNewViewLink(() => showViewLink(() => links.newViewLink(), 'New view-only link made: the old one no longer opens the list.'));
	share.bindTurnOffViewLink(() => showViewLink(() => links.turnOffViewLink().then(() => null), 'The view-only link is off: it no longer opens the list.'));
	share.bindReplaceEditLink(async () => {
		if (!confirm(REPLACE_QUESTION)) {
			return;
		}
		try {
			followMove((await links.replaceEditLink()).doc_id);
		} catch (error) {
			share.showFailure(error);
		}
	});
	// The list moved to a new edit id (replaced here or anywhere): keep this
	// device's copy, unsynced edits included, under the new id and open it there.
	let moving = false;
	const followMove = async (newId) => {
		if (moving) {
			return;
		}
		moving = true;
		sync.stop();
		await store.copyTo(newId);
		recent.moved(docId, newId);
		location.replace(pathOf(newId) + location.hash);
	};
	sync.onEnded((message) => message.type === 'moved' && followMove(message.doc_id));
	bar.bindNewList(async () => location.assign(pathOf(await newListId())));
	bar.bindOpenLists(() => showLists(recent.all()));
	bar.bindRemoveList((id) => showLists(recent.remove(id)));
	window.addEventListener('hashchange', () => controller.setRoute(location.hash));
	window.addEventListener('online', () => sync.retry());
	window.addEventListener('offline', () => sync.wentOffline());
	window.addEventListener('storage', () => showLists(recent.all()));
	// A page brought to the front (another tab, another window, back from the
	// back/forward cache) is the list in use: '/' opens it. Its own menu is not
	// redrawn here (it is when opened): a click that focused the window would
	// lose its target.
	const cameToFront = () => recent.used(docId);
	window.addEventListener('focus', cameToFront);
	window.addEventListener('pageshow', (event) => event.persisted && cameToFront());
	document.addEventListener('visibilitychange', () => {
		if (document.visibilityState === 'visible') {
			cameToFront();
			sync.retry();
			presence.announce(); // a hidden tab's heartbeats may have been throttled
		}
	});

	controller.setRoute(location.hash);
	view.ready();
	sync.start();
	document.documentElement.dataset.ready = 'true';
	window.todos = { store, sync, todos, view, historyPanel, presence };

	enableOffline(swUrl, staticUrl, root, aboutUrl).then(
		(enabled) => {
			document.documentElement.dataset.offlineReady = String(enabled);
		},
		(error) => console.warn('This list will not open without the server:', error)
	);
}

main().catch((error) => {
	console.error(error);
	view.showFailure(`The app could not start: ${error.message}. Reload the page to try again.`);
});
