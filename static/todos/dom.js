/** Two DOM helpers the page's modules share. */

/** Query one element under `scope`. */
export function qs(selector, scope = document) {
	return scope.querySelector(selector);
}

/** Listen to `type` events on `target`'s descendants matching `selector`. */
export function delegate(target, selector, type, handler, capture = false) {
	target.addEventListener(
		type,
		(event) => {
			const match = event.target.closest(selector);
			if (match && target.contains(match)) {
				handler(match, event);
			}
		},
		capture
	);
}
