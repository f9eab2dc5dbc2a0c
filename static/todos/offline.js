/**
 * Opening the app without a server: the service worker and the shell it serves.
 *
 * The page stores its own shell (its HTML and every same-origin file it loaded,
 * as the browser's resource timing lists them) in Cache Storage, which the
 * service worker (sw.js) shares. Offline, the worker answers a list page with
 * that HTML (the app reads the list id from the address) and the files from the
 * cache; the list itself comes from IndexedDB.
 */

export const SHELL_CACHE = 'todos-shell-v1';
export const SHELL_KEY = '/todos-offline-shell'; // a URL no route serves, the same from page and worker

/** Register the service worker at `swUrl` (no-op without one) and store the shell. */
export async function enableOffline(swUrl, staticUrl) {
	if (!swUrl || !('serviceWorker' in navigator) || !('caches' in globalThis)) {
		return false;
	}
	await navigator.serviceWorker.register(`${swUrl}?static=${encodeURIComponent(staticUrl)}`, { scope: '/' });
	await storeShell(staticUrl);
	await navigator.serviceWorker.ready;
	return true;
}

/** Put this page's HTML and the static files it loaded into the shell cache. */
async function storeShell(staticUrl) {
	const cache = await caches.open(SHELL_CACHE);
	const page = await fetch(location.pathname, { cache: 'no-store' });
	if (page.ok) {
		await cache.put(SHELL_KEY, page);
	}
	const staticPrefix = new URL(staticUrl, location.href).href;
	const files = performance
		.getEntriesByType('resource')
		.map((entry) => entry.name.split('#')[0])
		.filter((url) => url.startsWith(staticPrefix));
	await Promise.all(
		[...new Set(files)].map(async (url) => {
			const response = await fetch(url);
			if (response.ok) {
				await cache.put(url, response);
			}
		})
	);
}
