/**
 * Opening the app without a server: the service worker and the shell it serves.
 *
 * The page stores its own shell (its HTML and every same-origin file it loaded,
 * as the browser's resource timing lists them) in Cache Storage, which the
 * service worker (sw.js) shares, with the site root's page and its script
 * (home.js), and the "How this works" page. Offline, the worker answers a
 * list page with that HTML (the app reads the list id from the address), '/'
 * with the root's page (which opens the list used last), '/how-it-works/' with
 * its stored copy (whose back link goes to '/') and the files from the cache;
 * the list itself comes from IndexedDB.
 */

export const SHELL_CACHE = 'todos-shell-v1';
export const SHELL_KEY = '/todos-offline-shell'; // a URL no route serves, the same from page and worker
export const HOME_KEY = '/todos-offline-home'; // the root's page, likewise
export const ABOUT_KEY = '/todos-offline-how-it-works'; // the "How this works" page, likewise
export const VIEW_SHELL_KEY = '/todos-offline-view-shell'; // the view-only page's shell, likewise
const HOME_SCRIPT = new URL('./home.js', import.meta.url).href;

/**
 * Register the service worker at `swUrl` (no-op without one) and store the
 * shell, with the site root's page (`rootUrl`) and the "How this works" page
 * (`aboutUrl`, optional). A page opened offline was served from the stored
 * shell: it stores it again once the network is back. The page's HTML is
 * stored as `shellKey`: SHELL_KEY for list pages, VIEW_SHELL_KEY for view-only
 * pages (which read their token from the address, never an edit id).
 */
export async function enableOffline(swUrl, staticUrl, rootUrl, aboutUrl = null, shellKey = SHELL_KEY) {
	if (!swUrl || !('serviceWorker' in navigator) || !('caches' in globalThis)) {
		return false;
	}
	await navigator.serviceWorker.register(`${swUrl}?static=${encodeURIComponent(staticUrl)}`, { scope: '/' });
	if (navigator.onLine === false) {
		await new Promise((resolve) => window.addEventListener('online', resolve, { once: true }));
	}
	await storeShell(staticUrl, rootUrl, aboutUrl, shellKey);
	await navigator.serviceWorker.ready;
	return true;
}

/** Put this page's HTML, the root's and "How this works" pages and the static files they load into the shell cache. */
async function storeShell(staticUrl, rootUrl, aboutUrl, shellKey) {
	const cache = await caches.open(SHELL_CACHE);
	const pages = [
		[shellKey, location.pathname],
		[HOME_KEY, rootUrl],
		[ABOUT_KEY, aboutUrl],
	].filter(([, url]) => url);
	await Promise.all(
		pages.map(async ([key, url]) => {
			const response = await fetch(url, { cache: 'no-store' });
			if (response.ok) {
				await cache.put(key, response);
			}
		})
	);
	const staticPrefix = new URL(staticUrl, location.href).href;
	const files = performance
		.getEntriesByType('resource')
		.map((entry) => entry.name.split('#')[0])
		.filter((url) => url.startsWith(staticPrefix))
		.concat(HOME_SCRIPT);
	const current = new Set(files);
	await Promise.all(
		[...current].map(async (url) => {
			const response = await fetch(url);
			if (response.ok) {
				await cache.put(url, response);
			}
		})
	);
	await forgetOthers(cache, staticPrefix, current);
}

/**
 * Delete the cached static files this page did not load: served under
 * content-hashed names, each new version of a file has a new URL, and the
 * versions it replaced would otherwise stay in the cache for good.
 */
async function forgetOthers(cache, staticPrefix, current) {
	const stale = (await cache.keys()).filter((request) => request.url.startsWith(staticPrefix) && !current.has(request.url));
	await Promise.all(stale.map((request) => cache.delete(request)));
}
