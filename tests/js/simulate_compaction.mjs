// How many full saves do many clients send to compact one list? A simulation
// with the app's own Store and Sync against the fake server of helpers.js
// (chunk-level merge by containment, an update frame with the count after a
// compaction), all in this process. Not a test: run it by hand.
//
//   node tests/js/simulate_compaction.mjs [--clients 50] [--edits 600]
//        [--edit-every 6000] [--latency 20] [--slow 2] [--app static/todos]
//
// Each client edits every `--edit-every` ms on average (uniformly 0.5-1.5 times
// that), as in benchmarks/soak_clients.mjs: it adds an item, ticks one or
// deletes one. `--slow` stretches every delay (the edits, the app's timers and
// the server's latency) by that factor, so that one Node process keeps up with
// every client applying every push; the protocol sees the same proportions.
// `--app` names the directory holding sync.js and store.js (an older checkout's,
// to compare). Prints one JSON report.

import path from 'node:path';
import { parseArgs } from 'node:util';
import { Automerge, FakeServer, isSave, todos } from './helpers.js';
import { MemoryStorage } from '../../static/todos/persistence.js';

const { values } = parseArgs({
	options: {
		clients: { type: 'string', default: '50' },
		edits: { type: 'string', default: '600' },
		'edit-every': { type: 'string', default: '6000' },
		latency: { type: 'string', default: '20' },
		slow: { type: 'string', default: '2' },
		app: { type: 'string', default: 'static/todos' },
	},
});
const clients = Number(values.clients);
const edits = Number(values.edits);
const slow = Number(values.slow);
const editEvery = Number(values['edit-every']) * slow;
const app = path.resolve(values.app);
const { Store } = await import(path.join(app, 'store.js'));
const syncModule = await import(path.join(app, 'sync.js'));
const { Sync } = syncModule;

const timing = { debounce: 150 * slow, tabDelay: 1500 * slow, resyncGrace: 1500 * slow, compactSlot: (syncModule.COMPACT_SLOT_MS || 0) * slow };
const server = new FakeServer();
server.latency = Number(values.latency) * slow;
server.chunks = [Automerge.save(todos.create())];
const results = [];
const write = server.write.bind(server);
server.write = (bytes) => {
	const result = write(bytes);
	const body = result.body || {};
	results.push({ save: isSave(bytes), bytes: bytes.length, newChanges: body.new_changes, chunks: server.chunks.length, size: body.size });
	return result;
};

const devices = [];
for (let i = 0; i < clients; i += 1) {
	const store = await new Store({ Automerge, docId: 'sim', create: todos.create, storage: new MemoryStorage() }).open();
	const sync = new Sync({ store, docId: 'sim', initialHeads: todos.initialHeads(), httpBase: 'http://sim/', wsBase: 'ws://sim/', WebSocket: server.WebSocket, fetch: server.fetch, locks: null, timing });
	sync.start();
	devices.push({ store, sync });
}
await new Promise((resolve) => setTimeout(resolve, 500));

let made = 0;
let lag = 0;
const started = Date.now();
await new Promise((resolve) => {
	for (const device of devices) {
		const next = () => {
			if (made >= edits) {
				resolve();
				return;
			}
			const due = Date.now() + editEvery * (0.5 + Math.random());
			setTimeout(() => {
				if (made >= edits) {
					return;
				}
				lag = Math.max(lag, Date.now() - due);
				made += 1;
				edit(device, made);
				next();
			}, due - Date.now());
		};
		next();
	}
});
// Let the last uploads and compactions finish.
await new Promise((resolve) => setTimeout(resolve, 40 * 1000 * slow / 10));
for (const { sync } of devices) {
	sync.stop();
}

const saves = results.filter((r) => r.save);
const stored = server.doc();
const allHeads = new Set(Automerge.getHeads(stored));
const converged = devices.filter(({ store }) => store.heads().every((head) => allHeads.has(head)) && store.heads().length === allHeads.size).length;
console.log(JSON.stringify({
	app: values.app,
	clients,
	edits: made,
	seconds: Math.round((Date.now() - started) / 1000),
	maxEventLoopLagMs: lag,
	uploads: results.length,
	fullSaves: saves.length,
	fullSavesWithNewChanges: saves.filter((r) => r.newChanges > 0).length,
	fullSaveBytes: saves.reduce((total, r) => total + r.bytes, 0),
	compactionsThatShrank: results.filter((r, i) => r.save && i > 0 && r.chunks < results[i - 1].chunks).length,
	mostChunks: Math.max(...results.map((r) => r.chunks)),
	largestStoredBytes: Math.max(...results.map((r) => r.size || 0)),
	finalChunks: server.chunks.length,
	finalStoredBytes: server.chunks.reduce((total, chunk) => total + chunk.length, 0),
	oneSaveBytes: Automerge.save(stored).length,
	items: todos.items(stored).length,
	clientsOnServerHeads: converged,
}));

function edit({ store }, n) {
	const items = todos.items(store.doc);
	const roll = Math.random();
	if (items.length > 5 && roll < 0.2) {
		store.change((doc) => todos.removeItem(doc, items[Math.floor(Math.random() * items.length)].id));
	} else if (items.length > 0 && roll < 0.5) {
		const item = items[Math.floor(Math.random() * items.length)];
		store.change((doc) => todos.setDone(doc, item.id, !item.done));
	} else {
		store.change((doc) => todos.addItem(doc, `item ${n}`));
	}
}
