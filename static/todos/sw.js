/**
 * The service worker: lets the app open with the server down or the network off.
 *
 * Network first, so a working server always serves the current app; when the
 * network fails, list pages get the stored shell (offline.js), view-only pages
 * the stored view-only shell, and static files
 * their stored copies, '/' the root's stored page (which opens the list used
 * last), '/how-it-works/' its stored copy (without '?from=', so its back link
 * goes to '/', which opens the list used last) and '/new/' a new list with an
 * id made here. The storage API and the
 * WebSocket are never intercepted.
 */

const SHELL_CACHE = 'todos-shell-v1';
const SHELL_KEY = '/todos-offline-shell'; // as in offline.js
const HOME_KEY = '/todos-offline-home'; // as in offline.js
const ABOUT_KEY = '/todos-offline-how-it-works'; // as in offline.js
const VIEW_SHELL_KEY = '/todos-offline-view-shell'; // as in offline.js
const ABOUT_PATH = '/how-it-works/'; // URL name todos:how_it_works
const NETWORK_TIMEOUT_MS = 4000;
const LIST_PAGE = /\/lists\/[A-Za-z0-9_-]{1,64}\/$/;
const VIEW_PAGE = /\/view\/[A-Za-z0-9_-]{1,64}\/$/;
const REPO_ID_BYTES = 16; // as lists.js: an automerge-repo document id
const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const STATIC_PREFIX = new URL(new URL(self.location.href).searchParams.get('static') || '/static/', self.location.origin).pathname;

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
	const { request } = event;
	const url = new URL(request.url);
	if (request.method !== 'GET' || url.origin !== self.location.origin) {
		return;
	}
	if (request.mode === 'navigate' && LIST_PAGE.test(url.pathname)) {
		event.respondWith(networkFirst(request, () => caches.match(SHELL_KEY, { cacheName: SHELL_CACHE })));
	} else if (request.mode === 'navigate' && VIEW_PAGE.test(url.pathname)) {
		event.respondWith(networkFirst(request, () => caches.match(VIEW_SHELL_KEY, { cacheName: SHELL_CACHE })));
	} else if (request.mode === 'navigate' && url.pathname === '/') {
		event.respondWith(networkFirst(request, async () => (await caches.match(HOME_KEY, { cacheName: SHELL_CACHE })) || newList()));
	} else if (request.mode === 'navigate' && url.pathname === ABOUT_PATH) {
		event.respondWith(networkFirst(request, () => caches.match(ABOUT_KEY, { cacheName: SHELL_CACHE })));
	} else if (request.mode === 'navigate' && url.pathname === '/new/') {
		event.respondWith(networkFirst(request, async () => newList()));
	} else if (url.pathname.startsWith(STATIC_PREFIX)) {
		event.respondWith(networkFirst(request, () => caches.match(request, { cacheName: SHELL_CACHE, ignoreSearch: true })));
	}
});

/** The network's answer if it comes in time, else `fallback()`'s (or the failure). */
async function networkFirst(request, fallback) {
	try {
		return await withTimeout(fetch(request), NETWORK_TIMEOUT_MS);
	} catch (error) {
		const response = await fallback();
		if (response) {
			return response;
		}
		throw error;
	}
}

function withTimeout(promise, ms) {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error('The network did not answer in time.')), ms);
		promise.then(
			(value) => {
				clearTimeout(timer);
				resolve(value);
			},
			(error) => {
				clearTimeout(timer);
				reject(error);
			}
		);
	});
}

async function newList() {
	return Response.redirect(`/lists/${await newListId()}/`, 302);
}

/** As lists.js newListId (a worker cannot import it): a service worker always has crypto.subtle. */
async function newListId() {
	const payload = crypto.getRandomValues(new Uint8Array(REPO_ID_BYTES));
	const once = await crypto.subtle.digest('SHA-256', payload);
	const twice = new Uint8Array(await crypto.subtle.digest('SHA-256', once));
	let number = [...payload, ...twice.slice(0, 4)].reduce((value, byte) => value * 256n + BigInt(byte), 0n);
	let text = '';
	while (number > 0n) {
		text = BASE58[Number(number % 58n)] + text;
		number /= 58n;
	}
	const zeros = payload.findIndex((byte) => byte !== 0);
	return BASE58[0].repeat(zeros === -1 ? payload.length : zeros) + text;
}
