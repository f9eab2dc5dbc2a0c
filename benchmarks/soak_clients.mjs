// Soak load: browser-app clients editing one list over WebSockets while other
// clients write many documents over HTTP. Driven by benchmarks/soak.py.
//
// Usage:
//   node --experimental-websocket benchmarks/soak_clients.mjs --url http://127.0.0.1:8000
//        [--doc ID] [--clients 50] [--docs 200] [--seconds 600] [--edit-every 6000]
//        [--http-rate 10] [--http-concurrency 4] [--progress-every 10]
//
// WebSocket clients: each holds its own replica of one list (its own actor) and
// speaks the protocol the browser app speaks (static/todos/sync.js): on connect
// it loads the stored document from the first frame; every `--edit-every` ms
// (jittered) it adds an item, ticks one or deletes one and uploads the change as
// a binary frame, one upload at a time, each answered by an ack; after a 409 it
// sends `save()`. Pushes are applied with `loadIncremental` just before the
// client's next edit, all at once: 50 replicas applying every push one by one
// would saturate this one Node process before the server. (The app's own
// Store/Sync classes also cost O(document) per push in Node, in
// `Automerge.hasHeads`.) Each sent frame is remembered by its digest; when
// another client receives the same bytes as a push, the delay is one push-latency
// sample (all clients share this process's clock).
// Clients never compact the list: the server compacts its own copy, as it does
// for the app. Every ack and update frame names the stored chunk count, and the
// report gives the most and the last heard. Unlike the app, a client does not
// fetch the stored document when a push was missed; the report counts the
// clients whose replica converged with the server's copy.
// HTTP clients: `--docs` documents, each an Automerge document of its own, written
// round-robin at about `--http-rate` writes per second with `--http-concurrency`
// requests in flight: one new item per write as `saveIncremental()`, the full
// `save()` after a 409.
// A client whose socket closes opens another (after 0.5-1.5 s) and sends again
// what was not acknowledged. Afterwards every client waits until the server has
// acknowledged all its changes, and the stored documents are fetched and loaded:
// an edit is lost if an acknowledged change or HTTP item is missing from them.
// Output: one JSON line per progress interval ({"progress": ...}) and a final
// {"report": ...}, on stdout.
import crypto from 'node:crypto';

import * as Automerge from '@automerge/automerge';

import { todoDocument } from '../static/todos/doc.js';

const DEFAULTS = {
	url: '',
	doc: `soak-${crypto.randomBytes(6).toString('hex')}`,
	clients: 50,
	docs: 200,
	seconds: 600,
	'edit-every': 6000,
	'http-rate': 10,
	'http-concurrency': 4,
	'progress-every': 10,
};
const MAX_ITEMS = 300;
const todos = todoDocument(Automerge);

function parseArgs(argv) {
	const options = { ...DEFAULTS };
	for (let i = 0; i < argv.length; i += 2) {
		const name = argv[i].replace(/^--/, '');
		if (!(name in DEFAULTS)) throw new Error(`unknown option ${argv[i]}`);
		options[name] = typeof DEFAULTS[name] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
	}
	if (!options.url) throw new Error('--url is required');
	return options;
}

const options = parseArgs(process.argv.slice(2));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const digest = (bytes) => crypto.createHash('sha1').update(bytes).digest('base64');
const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

const sent = new Map(); // frame digest -> {at, client}
const stats = {
	wsEdits: 0,
	wsFrames: 0,
	wsSaves: 0,
	wsSaveBytes: 0,
	maxStoredChunks: 0,
	lastStoredChunks: null,
	pushes: 0,
	unmatchedPushes: 0,
	httpWrites: 0,
	httpFallbacks: 0,
	httpErrors: {},
	latencies: [],
	intervalLatencies: [],
};

/** A WebSocket as a browser's looks to the app, that also times pushes. */
function socketClass(client) {
	return class SoakWebSocket extends WebSocket {
		constructor(url) {
			super(url, { headers: { origin: options.url } });
			let closed = false;
			this.addEventListener('close', () => { closed = true; });
			// Node 20 fires only `error` when it cannot connect; browsers then fire `close`.
			this.addEventListener('error', () => setTimeout(() => {
				if (!closed && this.readyState === WebSocket.CONNECTING) this.dispatchEvent(new Event('close'));
			}, 0));
			this.addEventListener('message', (event) => {
				if (typeof event.data === 'string') return;
				const origin = sent.get(digest(new Uint8Array(event.data)));
				if (!origin) {
					stats.unmatchedPushes += 1;
				} else if (origin.client !== client) {
					const ms = performance.now() - origin.at;
					stats.pushes += 1;
					stats.latencies.push(ms);
					stats.intervalLatencies.push(ms);
				}
			});
		}

		send(bytes) {
			sent.set(digest(bytes), { at: performance.now(), client });
			stats.wsFrames += 1;
			super.send(bytes);
		}
	};
}

/** One WebSocket client: its replica, its socket, its queue of uploads. */
class Client {
	constructor(index, SocketClass) {
		this.index = index;
		this.SocketClass = SocketClass;
		this.doc = null;
		this.made = 0;
		this.queue = []; // {bytes, hash} of local changes not yet acknowledged
		this.acked = new Set(); // hashes of local changes the server acknowledged
		this.inbox = [];
		this.needFull = false;
		this.pending = null;
		this.sending = false;
		this.connected = false;
		this.stopped = false;
		this.closes = 0;
		this.errors = {};
	}

	/** Connect; resolve once the stored document is loaded. */
	open() {
		return new Promise((resolve) => this.connect(resolve));
	}

	/** Open a socket, and open another whenever it closes, as the app does. */
	connect(onLoaded = null) {
		const ws = new this.SocketClass(`${options.url.replace(/^http/, 'ws')}/ws/docs/${options.doc}`);
		ws.binaryType = 'arraybuffer';
		let first = true;
		ws.onmessage = (event) => {
			if (typeof event.data === 'string') {
				this.answered(JSON.parse(event.data));
				return;
			}
			const bytes = new Uint8Array(event.data);
			if (this.doc === null) {
				this.doc = Automerge.load(bytes);
			} else {
				this.inbox.push(bytes);
			}
			if (first) {
				first = false;
				this.connected = true;
				if (onLoaded) onLoaded();
				this.flush(); // what the last socket left unacknowledged
			}
		};
		ws.onclose = () => {
			this.closes += 1;
			this.connected = false;
			this.answered({ type: 'closed' });
			if (!this.stopped) setTimeout(() => this.connect(onLoaded && this.doc === null ? onLoaded : null), 500 + Math.random() * 1000);
		};
		this.ws = ws;
	}

	answered(message) {
		if (message.type === 'update') {
			// After someone else's write or the server's compaction.
			this.heard(message.chunks);
			return;
		}
		if (!['ack', 'error', 'closed'].includes(message.type)) return;
		const pending = this.pending;
		this.pending = null;
		if (pending) pending(message);
	}

	// The stored chunk count, as an ack or update frame names it.
	heard(chunks) {
		if (typeof chunks !== 'number') return;
		stats.maxStoredChunks = Math.max(stats.maxStoredChunks, chunks);
		stats.lastStoredChunks = chunks;
	}

	upload(bytes) {
		return new Promise((resolve) => {
			this.pending = resolve;
			this.ws.send(bytes);
		});
	}

	/** Send queued changes one at a time (`save()` after a 409). */
	async flush() {
		if (this.sending || !this.connected) return;
		this.sending = true;
		try {
			while (this.connected && this.queue.length) {
				if (!(await this.uploadOnce())) break;
			}
		} finally {
			this.sending = false;
		}
	}

	// One upload of queued changes; false if uploads should stop for now.
	async uploadOnce() {
		const full = this.needFull;
		const bytes = full ? Automerge.save(this.catchUp()) : this.queue[0].bytes;
		if (full) {
			stats.wsSaves += 1;
			stats.wsSaveBytes += bytes.length;
		}
		const sentQueue = full ? this.queue.length : 1;
		const answer = await this.upload(bytes);
		if (answer.type === 'ack') {
			for (const { hash } of this.queue.splice(0, sentQueue)) this.acked.add(hash);
			this.needFull = false;
			this.heard(answer.chunks);
			return true;
		}
		if (answer.type === 'error') {
			this.errors[answer.status] = (this.errors[answer.status] || 0) + 1;
			if (full) return false;
			this.needFull = true;
			return true;
		}
		return false; // closed: the queue stays, and is sent again on the next socket
	}

	unsent() {
		return this.queue.length > 0 || this.sending || !this.connected;
	}

	/** Apply the pushes received since the last call, all at once. */
	catchUp() {
		if (this.inbox.length) {
			this.doc = Automerge.loadIncremental(this.doc, Buffer.concat(this.inbox));
			this.inbox = [];
		}
		return this.doc;
	}

	heads() {
		return Automerge.getHeads(this.catchUp()).sort().join();
	}

	stop() {
		this.stopped = true;
		if (this.ws) this.ws.close();
	}
}

function edit(client) {
	const doc = client.catchUp();
	const items = todos.items(doc);
	const roll = Math.random();
	let next;
	if (items.length < 20 || (roll < 0.5 && items.length < MAX_ITEMS)) {
		next = todos.addItem(doc, `c${client.index}-${client.made}`);
	} else if (roll < 0.85) {
		const item = items[Math.floor(Math.random() * items.length)];
		next = todos.setDone(doc, item.id, !item.done);
	} else {
		next = todos.removeItem(doc, items[Math.floor(Math.random() * items.length)].id);
	}
	if (next !== doc) {
		client.doc = next;
		client.made += 1;
		stats.wsEdits += 1;
		const bytes = Automerge.getLastLocalChange(next);
		client.queue.push({ bytes, hash: Automerge.decodeChange(bytes).hash });
		client.flush();
	}
}

async function editLoop(client, until) {
	await sleep(Math.random() * options['edit-every']);
	while (Date.now() < until) {
		edit(client);
		await sleep(options['edit-every'] * (0.5 + Math.random()));
	}
}

async function post(url, bytes) {
	try {
		const response = await fetch(url, { method: 'POST', body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
		await response.arrayBuffer();
		return response.status;
	} catch (error) {
		return `network: ${error.cause?.code || error.message}`;
	}
}

async function httpWriters(until) {
	const docs = Array.from({ length: options.docs }, (_, i) => ({
		url: `${options.url}/docs/${options.doc}-http-${i}`,
		doc: Automerge.from({ title: `http ${i}`, items: [] }),
		acked: [],
		busy: false,
		fresh: true,
	}));
	let next = 0;
	let slot = Date.now();
	const interval = 1000 / options['http-rate'];
	async function worker() {
		while (Date.now() < until) {
			slot += interval;
			const wait = slot - Date.now();
			if (wait > 0) await sleep(wait);
			const target = docs[next++ % docs.length];
			if (target.busy) continue;
			target.busy = true;
			const text = `h-${target.acked.length}-${crypto.randomBytes(3).toString('hex')}`;
			target.doc = Automerge.change(target.doc, (d) => { d.items.push({ text, done: false }); });
			let status = await post(target.url, target.fresh ? Automerge.save(target.doc) : Automerge.saveIncremental(target.doc));
			if (status === 409) {
				stats.httpFallbacks += 1;
				status = await post(target.url, Automerge.save(target.doc));
			}
			if (status === 200) {
				target.acked.push(text);
				target.fresh = false;
				stats.httpWrites += 1;
			} else {
				stats.httpErrors[status] = (stats.httpErrors[status] || 0) + 1;
				target.fresh = true; // send everything next time
			}
			target.busy = false;
		}
	}
	await Promise.all(Array.from({ length: options['http-concurrency'] }, worker));
	return docs;
}

function quantile(sorted, q) {
	if (!sorted.length) return null;
	return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function summary(samples) {
	const sorted = Float64Array.from(samples).sort();
	return { count: sorted.length, median: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted.length ? sorted[sorted.length - 1] : null };
}

async function fetchDoc(url) {
	const response = await fetch(url);
	if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`);
	return Automerge.load(new Uint8Array(await response.arrayBuffer()));
}

async function waitFor(condition, timeout) {
	const deadline = Date.now() + timeout;
	while (!condition() && Date.now() < deadline) await sleep(100);
	return condition();
}

async function main() {
	const started = Date.now();
	const until = started + options.seconds * 1000;
	const base = Automerge.save(todos.create());
	if ((await post(`${options.url}/docs/${options.doc}`, base)) !== 200) throw new Error('could not store the list');
	const clients = Array.from({ length: options.clients }, (_, i) => new Client(i, socketClass(i)));
	await Promise.all(clients.map((client) => client.open()));
	const progress = setInterval(() => {
		const interval = summary(stats.intervalLatencies);
		stats.intervalLatencies = [];
		for (const [key, value] of sent) if (performance.now() - value.at > 60000) sent.delete(key);
		say({ progress: { seconds: (Date.now() - started) / 1000, wsEdits: stats.wsEdits, httpWrites: stats.httpWrites, pushes: stats.pushes, pushP99: interval.p99, pushMedian: interval.median, wsSaves: stats.wsSaves, storedChunks: stats.lastStoredChunks, unsent: clients.filter((c) => c.unsent()).length } });
	}, options['progress-every'] * 1000);
	const [docs] = await Promise.all([httpWriters(until), ...clients.map((c) => editLoop(c, until))]);
	const editedFor = (Date.now() - started) / 1000;
	const settled = await waitFor(() => clients.every((c) => !c.unsent()), 120000);
	clearInterval(progress);

	// Lost edits: every change each client made must be in the server's copy.
	const server = await fetchDoc(`${options.url}/docs/${options.doc}`);
	const serverHashes = new Set(Automerge.getAllChanges(server).map((c) => Automerge.decodeChange(c).hash));
	let lostWs = 0;
	let undelivered = 0;
	for (const client of clients) {
		for (const hash of client.acked) if (!serverHashes.has(hash)) lostWs += 1;
		undelivered += client.made - client.acked.size;
	}
	const serverHeads = Automerge.getHeads(server).sort().join();
	await waitFor(() => clients.every((c) => c.heads() === serverHeads), 30000);
	const converged = clients.filter((c) => c.heads() === serverHeads).length;
	let lostHttp = 0;
	let httpDocsChecked = 0;
	for (const target of docs) {
		if (!target.acked.length) continue;
		const stored = new Set(todos.items(await fetchDoc(target.url)).map((item) => item.text));
		lostHttp += target.acked.filter((text) => !stored.has(text)).length;
		httpDocsChecked += 1;
	}
	for (const client of clients) client.stop();
	say({
		report: {
			doc: options.doc,
			clients: options.clients,
			docs: options.docs,
			editedSeconds: editedFor,
			wsEdits: stats.wsEdits,
			wsFrames: stats.wsFrames,
			wsSaves: stats.wsSaves,
			wsSaveBytes: stats.wsSaveBytes,
			maxStoredChunks: stats.maxStoredChunks,
			lastStoredChunks: stats.lastStoredChunks,
			httpWrites: stats.httpWrites,
			httpFallbacks: stats.httpFallbacks,
			httpErrors: stats.httpErrors,
			pushLatency: summary(stats.latencies),
			unmatchedPushes: stats.unmatchedPushes,
			settled,
			converged,
			serverChanges: serverHashes.size,
			undeliveredWebSocketEdits: undelivered,
			serverItems: todos.items(server).length,
			lostWebSocketEdits: lostWs,
			lostHttpEdits: lostHttp,
			httpDocsChecked,
			socketCloses: clients.reduce((total, c) => total + c.closes, 0),
			refusals: mergeCounts(clients.map((c) => c.errors)),
		},
	});
	process.exit(0);
}

function mergeCounts(counts) {
	const total = {};
	for (const count of counts) for (const [key, value] of Object.entries(count)) total[key] = (total[key] || 0) + value;
	return total;
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
