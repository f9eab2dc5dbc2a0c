"""Faults: the server killed mid-write, PostgreSQL or Redis going away, a restart.

Every test runs real Daphne processes and checks the outcome with the real
``@automerge/automerge`` in Node:

- kill -9 during a stream of writes, on SQLite and on PostgreSQL, several times:
  after each restart the document loads and holds every write that got a 2xx;
- PostgreSQL cut off (a TCP proxy we control between Daphne and the database, and
  separately ``pg_terminate_backend``): writes fail with a 5xx, never a 2xx they
  did not store, and the document is intact and loads once the database is back;
- Redis cut off (the same proxy, in front of the channel layer): HTTP writes still
  succeed, since the push is sent after the commit and only best-effort;
- the browser app's own modules (store.js, sync.js) ride out a server restart
  without being reloaded: edits made while it is down reach the server after.

Nothing here is timed: waits have generous limits and only guard against hangs.
"""

import base64
import http.client
import json
import random
import secrets
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests import automerge_node, live
from tests.test_security import RawWebSocket

ROOT = Path(__file__).resolve().parent.parent
WRITES = 150
KILLS = 3

pytestmark = pytest.mark.live

NODE_MAKE_WRITES = """
import * as Automerge from '@automerge/automerge'
const count = Number(process.argv[1])
let doc = Automerge.from({ title: 'faults', items: [] })
const b64 = (bytes) => Buffer.from(bytes).toString('base64')
const incs = [b64(Automerge.save(doc))]
const saves = [incs[0]]
Automerge.saveIncremental(doc)
for (let i = 1; i < count; i++) {
  doc = Automerge.change(doc, (d) => { d.items.push({ text: `w-${i}`, done: false }) })
  incs.push(b64(Automerge.saveIncremental(doc)))
  saves.push(b64(Automerge.save(doc)))
}
process.stdout.write(JSON.stringify({ incs, saves }))
"""


@pytest.fixture(scope="module")
def writes():
    """Write i adds item ``w-i`` (write 0 creates the list): incremental and full."""
    done = subprocess.run(
        ["node", "--input-type=module", "-e", NODE_MAKE_WRITES, str(WRITES)],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=120,
    )
    made = json.loads(done.stdout)
    return {
        kind: [base64.b64decode(b) for b in made[kind]] for kind in ("incs", "saves")
    }


def request(port, method, path, body=None, timeout=30):
    """One HTTP request on a new connection: (status, body), or (None, error)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/octet-stream"} if body else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as error:
        return None, repr(error).encode()
    finally:
        connection.close()


def items_of(data):
    """The item texts of Automerge bytes, loaded by the real Automerge."""
    return {item["text"] for item in automerge_node.inspect(data)["doc"]["items"]}


def acked_items(acked):
    return {f"w-{i}" for i in acked if i > 0}


class WriteStream(threading.Thread):
    """A client writing changes one after another, retrying until each gets a 2xx.

    An incremental upload is retried as is after a network error or a 5xx (if it
    was stored after all, the retry changes nothing); after a 409 the full
    document is sent instead, as the browser app does. ``acked`` holds the
    writes that got a 2xx; ``log`` every attempt as (write, status).
    """

    def __init__(self, port, doc_id, writes, pause=0.0):
        super().__init__(daemon=True)
        self.port = port
        self.path = f"/docs/{doc_id}"
        self.writes = writes
        self.pause = pause
        self.acked = set()
        self.log = []
        self.errors = []
        self.halt = threading.Event()

    def run(self):
        index, full = 0, False
        while index < len(self.writes["incs"]) and not self.halt.is_set():
            body = self.writes["saves" if full else "incs"][index]
            status, answer = request(self.port, "POST", self.path, body)
            self.log.append((index, status))
            if status == 200:
                self.acked.add(index)
                index, full = index + 1, False
                time.sleep(self.pause)
            elif status == 409:
                full = True
            elif status is None or status >= 500:
                time.sleep(0.05)
            else:
                self.errors.append((index, status, answer[:300]))
                return

    def wait_for_acks(self, count, timeout=120):
        deadline = time.monotonic() + timeout
        while len(self.acked) < count and self.is_alive():
            assert time.monotonic() < deadline, "the writes stopped making progress"
            time.sleep(0.01)

    def statuses(self):
        counts = {}
        for _, status in self.log:
            counts[status] = counts.get(status, 0) + 1
        return counts


def stored_items(server, doc_id):
    status, data = request(server.port, "GET", f"/docs/{doc_id}")
    assert status == 200, data[:300]
    return items_of(data)


def kill_during_writes(server, doc_id, writes):
    """Kill -9 the server KILLS times while writes stream in; check after each."""
    stream = WriteStream(server.port, doc_id, writes)
    stream.start()
    rng = random.Random(secrets.randbits(32))
    targets = sorted(rng.sample(range(10, WRITES - 10), KILLS))
    for target in targets:
        stream.wait_for_acks(target)
        acked_before_kill = set(stream.acked)
        server.kill()
        server.start()
        # Whatever got a 2xx before the kill is there, and the document loads.
        assert acked_items(acked_before_kill) <= stored_items(server, doc_id)
    stream.join(180)
    assert not stream.is_alive() and stream.errors == []
    final = stored_items(server, doc_id)
    assert acked_items(stream.acked) <= final
    assert final == {f"w-{i}" for i in range(1, WRITES)}
    return stream


def test_kill_9_during_writes_loses_no_acknowledged_write_on_sqlite(
    live_server_factory, writes
):
    server = live_server_factory()

    stream = kill_during_writes(server, "killed-sqlite", writes)

    assert stream.statuses().get(None, 0) >= 1  # some write met the dead server


@pytest.mark.postgres
def test_kill_9_during_writes_loses_no_acknowledged_write_on_postgres(
    live_server_factory, postgres_database, writes
):
    server = live_server_factory(database_url=postgres_database)

    stream = kill_during_writes(server, "killed-postgres", writes)

    assert stream.statuses().get(None, 0) >= 1


# --- a TCP proxy we can cut -------------------------------------------------------


class Proxy:
    """Forward a local port to ``target_port``; ``cut()`` drops every connection
    and refuses new ones until ``restore()``."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.port = live.free_port()
        self.connections = set()
        self.lock = threading.Lock()
        self.listener = None
        self.restore()

    @property
    def url_port(self):
        return self.port

    def restore(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            for sock in self.connections:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self.connections.clear()

    def close(self):
        self.cut()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(source, sink), daemon=True
                ).start()

    def _pump(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def through(url, proxy):
    """``url`` with its port replaced by the proxy's."""
    scheme, rest = url.split("://", 1)
    credentials, _, hostpart = rest.rpartition("@")
    host_port, slash, path = hostpart.partition("/")
    host = host_port.rsplit(":", 1)[0]
    prefix = f"{credentials}@" if credentials else ""
    return f"{scheme}://{prefix}{host}:{proxy.port}{slash}{path}"


def port_of(url):
    return int(url.split("://", 1)[1].rpartition("@")[2].split("/")[0].rsplit(":")[1])


@pytest.mark.postgres
def test_postgres_going_away_fails_writes_cleanly_and_corrupts_nothing(
    live_server_factory, postgres_database, writes
):
    proxy = Proxy(port_of(postgres_database))
    try:
        server = live_server_factory(database_url=through(postgres_database, proxy))
        doc = "pg-cut"
        path = f"/docs/{doc}"
        for i in range(20):
            assert request(server.port, "POST", path, writes["incs"][i])[0] == 200
        before = request(server.port, "GET", path)[1]

        proxy.cut()
        during = [
            request(server.port, "POST", path, writes["incs"][i]) for i in (20, 21)
        ]
        during.append(request(server.port, "GET", path))
        proxy.restore()

        for status, body in during:
            assert status == 503, (status, body[:300])
            assert b"database is unavailable" in body
        after = request(server.port, "GET", path)
        assert after == (200, before)
        # The client retries what failed; everything is stored once, and loads.
        for i in range(20, 40):
            assert request(server.port, "POST", path, writes["incs"][i])[0] == 200
        assert stored_items(server, doc) == {f"w-{i}" for i in range(1, 40)}
    finally:
        proxy.close()


@pytest.mark.postgres
def test_terminated_postgres_backends_lose_no_acknowledged_write(
    live_server_factory, postgres_database, writes
):
    import psycopg

    server = live_server_factory(database_url=postgres_database)
    name = postgres_database.rsplit("/", 1)[1]
    admin = postgres_database.rsplit("/", 1)[0] + "/postgres"
    stream = WriteStream(server.port, "pg-terminated", writes, pause=0.005)
    stream.start()
    terminated = 0
    with psycopg.connect(admin, autocommit=True) as conn:
        while stream.is_alive() and len(stream.acked) < WRITES - 5:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            ).fetchall()
            terminated += sum(1 for (ok,) in rows if ok)
            time.sleep(0.1)
    stream.join(180)

    assert not stream.is_alive() and stream.errors == []
    assert terminated >= 1
    final = stored_items(server, "pg-terminated")
    assert final == {f"w-{i}" for i in range(1, WRITES)}
    assert set(stream.statuses()) <= {200, 409, 503, None}


@pytest.mark.redis
def test_redis_going_away_keeps_http_writes_working(
    live_server_factory, redis_url, writes
):
    proxy = Proxy(port_of(redis_url))
    try:
        server = live_server_factory(redis_url=through(redis_url, proxy))
        doc = "redis-cut"
        path = f"/docs/{doc}"
        assert request(server.port, "POST", path, writes["incs"][0])[0] == 200
        listener = RawWebSocket(server.port, f"/ws/{path[1:]}", origin=server.url)
        assert listener.status == 101
        assert listener.receive() == (0x2, writes["incs"][0])
        assert request(server.port, "POST", path, writes["incs"][1])[0] == 200
        assert listener.receive() == (0x2, writes["incs"][1])  # pushes work

        proxy.cut()
        during = [
            request(server.port, "POST", path, writes["incs"][i]) for i in range(2, 6)
        ]
        proxy.restore()

        assert [status for status, _ in during] == [200] * 4
        listener.close()
        assert request(server.port, "POST", path, writes["incs"][6])[0] == 200
        again = reconnect(server, path)
        assert request(server.port, "POST", path, writes["incs"][7])[0] == 200
        assert receives_edit(again, writes["incs"][7], "w-7")  # pushes work again
        again.close()
        assert stored_items(server, doc) == {f"w-{i}" for i in range(1, 8)}
    finally:
        proxy.close()


def receives_edit(socket_, change, text, frames=5):
    """True once ``socket_`` is sent ``change`` as a push, or a stored document
    holding the item ``text``. Other frames may come first: a push of a change
    committed just before the socket opened (the process's push hub, back from
    its wait for Redis, sends what queued meanwhile to every socket it has then;
    the socket already holds that change), and the stored document again when
    the layer notices Redis is back only after the socket opened."""
    for _ in range(frames):
        opcode, data = socket_.receive()
        if opcode != 0x2:
            continue
        if data == change:
            return True
        try:
            if text in items_of(data):
                return True
        except AssertionError:
            continue  # a push of another change alone: not loadable by itself
    return False


def reconnect(server, path, attempts=20):
    """Open a socket on ``path`` as the browser app does: retrying until one works.

    Channels-redis may hold pooled connections that died with the outage; the
    first sockets after it can fail on them and be closed.
    """
    for _ in range(attempts):
        socket_ = None
        try:
            socket_ = RawWebSocket(server.port, f"/ws/{path[1:]}", origin=server.url)
            if socket_.status == 101 and socket_.receive()[0] == 0x2:
                return socket_  # it sent the stored document
        except OSError:
            pass  # reset during the handshake or after it: try again
        if socket_ is not None:
            socket_.close()
        time.sleep(0.5)
    raise AssertionError(f"no socket on {path} worked after {attempts} attempts")


# --- the browser app's modules across a server restart -----------------------------

NODE_DEVICES = """
import * as Automerge from '@automerge/automerge'
import readline from 'node:readline'
const [root, base, docId] = process.argv.slice(1)
const { MemoryStorage } = await import(`${root}/static/todos/persistence.js`)
const { Store } = await import(`${root}/static/todos/store.js`)
const { Sync } = await import(`${root}/static/todos/sync.js`)
const { todoDocument } = await import(`${root}/static/todos/doc.js`)
const todos = todoDocument(Automerge)
// A browser's WebSocket, as far as the app can tell: it sends an Origin header,
// and when it cannot connect it fires `close` after `error`. (Node 20's fires only
// `error` and stays CONNECTING; the app, like browser code, waits for `close`.)
class BrowserWebSocket extends WebSocket {
  constructor (url) {
    super(url, { headers: { origin: base } })
    let closed = false
    this.addEventListener('close', () => { closed = true })
    this.addEventListener('error', () => setTimeout(() => {
      if (!closed && this.readyState === WebSocket.CONNECTING) {
        this.dispatchEvent(new Event('close'))
      }
    }, 0))
  }
}
const lines = readline.createInterface({ input: process.stdin })
const nextLine = () => new Promise((resolve) => lines.once('line', resolve))
const say = (message) => console.log(JSON.stringify(message))
async function waitFor (condition, what, timeout = 90000) {
  const deadline = Date.now() + timeout
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
async function device () {
  const storage = new MemoryStorage()
  const options = { Automerge, docId, create: todos.create, storage }
  const store = await new Store(options).open()
  const sync = new Sync({
    store, docId, initialHeads: todos.initialHeads(),
    httpBase: `${base}/`, wsBase: `${base.replace('http', 'ws')}/`,
    WebSocket: BrowserWebSocket, fetch: globalThis.fetch,
    timing: { retryMin: 200, retryMax: 2000 }
  })
  sync.start()
  const states = new Set()
  sync.onStatus((status) => states.add(status.state))
  const add = (text) => store.change((d) => todos.addItem(d, text))
  return { store, sync, states, add }
}
const texts = ({ store }) => todos.items(store.doc).map((item) => item.text).sort()
const has = (d, wanted) => wanted.every((text) => texts(d).includes(text))
const saved = (d) => d.sync.status().state === 'saved'
const a = await device()
const b = await device()
a.add('before-a'); b.add('before-b')
const first = ['before-a', 'before-b']
await waitFor(() => [a, b].every((d) => has(d, first) && saved(d)), 'the first edits')
say({ step: 'kill' })
await nextLine()
a.add('while-down-a'); b.add('while-down-b')
await waitFor(() => [a, b].every((d) => d.sync.status().unsynced), 'pending edits')
say({ step: 'restart', offline: [a, b].map((d) => d.sync.status().state) })
await nextLine()
const all = ['before-a', 'before-b', 'while-down-a', 'while-down-b']
const synced = (d) => has(d, all) && saved(d)
await waitFor(() => [a, b].every(synced), 'the edits made while down')
a.add('after-a')
await waitFor(() => has(b, ['after-a']) && saved(a), 'a push after the restart')
const states = [a, b].map((d) => [...d.states])
say({ step: 'done', states, texts: [texts(a), texts(b)] })
a.sync.stop(); b.sync.stop()
process.exit(0)
"""


def test_browser_app_rides_out_a_server_restart_without_a_reload(live_server_factory):
    server = live_server_factory()
    doc = "restarted-" + secrets.token_hex(4)
    node = subprocess.Popen(
        [
            "node",
            "--experimental-websocket",
            "--no-warnings",
            "--input-type=module",
            "-e",
            NODE_DEVICES,
            ROOT.as_uri(),
            server.url,
            doc,
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert json.loads(node.stdout.readline() or "{}").get("step") == "kill", (
            node.stderr.read()
        )
        server.kill()
        node.stdin.write("killed\n")
        node.stdin.flush()
        restart = json.loads(node.stdout.readline() or "{}")
        assert restart.get("step") == "restart", node.stderr.read()
        server.start()
        node.stdin.write("restarted\n")
        node.stdin.flush()
        done = json.loads(node.stdout.readline() or "{}")
        assert done.get("step") == "done", node.stderr.read()
    finally:
        node.kill()
        node.wait()

    everything = ["after-a", "before-a", "before-b", "while-down-a", "while-down-b"]
    assert done["texts"] == [everything, everything]
    assert sorted(stored_items(server, doc)) == everything
    for states in done["states"]:
        assert "offline" in states or "connecting" in states, states
