// Random multi-actor Automerge histories, and the ways a client can upload them.
//
//   node tests/node/random_histories.mjs generate [--no-marks] [--no-empty] <steps> <seed>...
//       prints {"<seed>": {actors, changes, heads, doc, plans: {name: [base64, ...]}}}
//   node tests/node/random_histories.mjs load < {"<key>": "<base64>", ...}
//       prints {"<key>": {heads, doc} | {error}}: Automerge.load of each
//
// Everything follows from the seed: actor IDs, change times and Automerge's own
// randomness (crypto.getRandomValues is replaced by a seeded generator before
// Automerge is loaded), so a failing seed reproduces byte for byte.
//
// A history is 2-5 actors (forks of one first document, by Automerge.clone, and
// later forks of forks) editing a todo list and more: {title, items: [{text, done,
// votes?, tags?}], meta: {...}, ...} with inserts at the front, middle and end,
// deletes, moves (delete + insert of a copy), collaborative text (splice,
// updateText, mark, unmark), toggles, nested maps and lists, counters, deleted and
// overwritten keys of every value type, deliberate concurrent writes to one key and
// concurrent inserts at one position, merges between actors, empty changes,
// changeAt, and actors that reload from save() (or loadIncremental) and go on.
//
// Upload plans (each a list of request bodies that, in order, give the server the
// whole history):
//   causal      each change alone, in Automerge's getAllChanges order
//   each        each change alone, in a random causal order
//   batches     random concatenations of consecutive changes (random causal order)
//   shuffled    like batches, with each batch's changes in random order
//   browser     what each actor's browser sends as the history is made: saveSince
//               its server heads (or saveIncremental), now and then a full save()
//   save_first  a save() of one actor (mid-history or final), then the rest of the
//               changes in random batches
//   compaction  random batches with save()s of dependency-closed sets arriving in
//               between: exactly what is stored, more than that, or a snapshot of
//               an actor that is concurrent with what is stored
//   saves       each actor's final save(), one after another
import { webcrypto } from 'node:crypto'

function mulberry32 (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// Automerge's randomness (random actor IDs, e.g. for changeAt) from a seed.
let cryptoRandom = mulberry32(1)
Object.defineProperty(globalThis, 'crypto', {
  configurable: true,
  value: {
    subtle: webcrypto.subtle,
    randomUUID: () => webcrypto.randomUUID(),
    getRandomValues (array) {
      const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength)
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(cryptoRandom() * 256)
      return array
    }
  }
})
const A = await import('@automerge/automerge')
const fs = await import('node:fs')

const b64 = bytes => Buffer.from(bytes).toString('base64')
const concat = parts => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}
const json = value => JSON.parse(JSON.stringify(
  value, (_, v) => typeof v === 'bigint' ? `bigint:${v}` : v))

// The document as JSON, with the marks of the title and of each item's text.
function plain (doc) {
  const marks = {}
  const paths = [['title']]
  const items = Array.isArray(doc.items) ? doc.items : []
  items.forEach((_, i) => paths.push(['items', i, 'text']))
  for (const path of paths) {
    try {
      const found = A.marks(doc, path)
      if (found.length) marks[path.join('/')] = found
    } catch (error) {
      // not a text object
    }
  }
  return json({ value: A.toJS(doc), marks })
}

class History {
  constructor (seed, steps, { marks = true, empty = true } = {}) {
    this.seed = seed
    this.marks = marks // Automerge.mark/unmark in text (off: --no-marks)
    this.empty = empty // Automerge.emptyChange (off: --no-empty)
    this.steps = steps
    this.random = mulberry32(seed * 7919 + 17)
    cryptoRandom = mulberry32(seed * 104729 + 3)
    this.time = 1_700_000_000 + seed
    this.browser = [] // upload bodies, in the order the actors send them
    this.snapshots = [] // save() bytes taken along the way
    this.actors = []
    this.nextActor = 0
    this.stats = {} // what the history holds, by kind of step and op
  }

  count (name) { this.stats[name] = (this.stats[name] || 0) + 1 }

  int (n) { return Math.floor(this.random() * n) }
  chance (p) { return this.random() < p }
  pick (list) { return list[this.int(list.length)] }
  opts () { this.time += 1 + this.int(5); return { time: this.time } }

  actorId () {
    this.nextActor += 1
    const hex = (this.seed * 131 + this.nextActor).toString(16).padStart(8, '0')
    return (hex + this.nextActor.toString(16).padStart(2, '0')).repeat(4).slice(0, 32)
  }

  addActor (doc) {
    const actor = {
      id: A.getActorId(doc),
      doc,
      serverHas: [],
      incremental: this.chance(0.4), // uploads saveIncremental, not saveSince
      fresh: true // handle replaced since its last upload: saveIncremental unsafe
    }
    this.actors.push(actor)
    return actor
  }

  run () {
    let first = A.init({ actor: this.actorId() })
    first = A.change(first, this.opts(), d => {
      d.title = this.chance(0.5) ? 'Groceries' : new A.ImmutableString('Groceries')
      d.items = []
      if (this.chance(0.5)) d.items.push({ text: 'milk', done: false })
    })
    this.addActor(first)
    const forks = 1 + this.int(4)
    for (let i = 0; i < forks; i++) {
      this.fork(this.chance(0.7) ? this.actors[0] : this.pick(this.actors))
    }
    for (let step = 0; step < this.steps; step++) this.step()
    for (const actor of this.actors) this.upload(actor, false)
    let final = A.clone(this.actors[0].doc)
    for (const actor of this.actors.slice(1)) final = A.merge(final, actor.doc)
    this.final = final
    return this.output()
  }

  fork (from) {
    const doc = A.clone(from.doc, { actor: this.actorId() })
    return this.addActor(doc)
  }

  step () {
    const r = this.random()
    const actor = this.pick(this.actors)
    const steps = [
      [0.55, 'edit', () => this.edit(actor)],
      [0.68, 'merge', () => this.merge(actor, this.pick(this.actors))],
      [0.73, 'conflicting writes', () => this.conflict()],
      [0.78, 'concurrent inserts', () => this.concurrentInserts()],
      [0.88, 'browser upload', () => this.upload(actor, this.chance(0.12))],
      [0.92, 'reload', () => this.reload(actor)],
      [0.94, 'fork', () => this.actors.length < 5 && this.fork(actor)],
      [0.96, 'snapshot', () => this.snapshot(actor)],
      [0.975, 'empty change', () => {
        if (this.empty) actor.doc = A.emptyChange(actor.doc, this.opts())
      }],
      [1, 'changeAt', () => this.changeAt(actor)]
    ]
    const [, name, run] = steps.find(([upTo]) => r < upTo)
    this.count(name)
    try {
      run()
    } catch (error) {
      throw new Error(`seed ${this.seed}, step ${name}: ${error}`)
    }
  }

  snapshot (actor) {
    this.snapshots.push(A.save(actor.doc))
    actor.fresh = true // save() resets what saveIncremental returns next
  }

  upload (actor, full) {
    let bytes
    if (full) {
      bytes = A.save(actor.doc)
    } else if (actor.incremental && !actor.fresh) {
      bytes = A.saveIncremental(actor.doc)
    } else {
      bytes = A.saveSince(actor.doc, actor.serverHas)
      if (actor.incremental) A.saveIncremental(actor.doc)
    }
    actor.fresh = false
    if (bytes.length) {
      this.server = A.loadIncremental(this.server || A.init(), bytes)
      if (A.getMissingDeps(this.server, []).length) {
        // The generator's model of a client is wrong, not the server.
        throw new Error(`seed ${this.seed}: a browser upload lacks dependencies`)
      }
      this.browser.push(bytes)
    }
    actor.serverHas = A.getHeads(actor.doc)
  }

  reload (actor) {
    const bytes = A.save(actor.doc)
    if (this.chance(0.3)) {
      actor.doc = A.loadIncremental(A.init({ actor: actor.id }), bytes)
    } else {
      actor.doc = A.load(bytes, { actor: actor.id })
    }
    actor.fresh = true
  }

  merge (actor, other) {
    if (actor === other) return
    actor.doc = A.merge(actor.doc, other.doc)
  }

  changeAt (actor) {
    const history = A.getAllChanges(actor.doc)
    const at = A.decodeChange(this.pick(history)).hash
    // On a copy: Automerge 3.5 sometimes throws ("invalid obj id") after the
    // callback of a changeAt, and the document it was called on is then unusable.
    const copy = A.clone(actor.doc, { actor: actor.id })
    try {
      actor.doc = A.changeAt(copy, [at], this.opts(), d => this.ops(d, 1)).newDoc
      actor.fresh = true
    } catch (error) {
      if (typeof error !== 'string') throw error
      this.count('changeAt refused by Automerge')
    }
  }

  edit (actor) {
    const n = 1 + this.int(4)
    actor.doc = A.change(actor.doc, this.opts(), d => this.ops(d, n))
  }

  // Two actors write the same key (or item field) without seeing each other.
  conflict () {
    const [a, b] = this.two()
    const key = this.pick(['title', 'flag', 'meta', 'n'])
    const itemField = this.pick(['done', 'text', 'votes'])
    for (const actor of [a, b]) {
      actor.doc = A.change(actor.doc, this.opts(), d => {
        if (d.items && d.items.length && this.chance(0.5)) {
          const item = d.items[this.int(d.items.length)]
          if (item && typeof item === 'object') item[itemField] = this.value(1)
        } else {
          d[key] = this.value(2)
        }
      })
    }
  }

  // Two or three actors insert at the same index of the same list.
  concurrentInserts () {
    const [a, b] = this.two()
    const where = this.pick(['front', 'end', 'same'])
    const index = this.int(1000)
    for (const actor of this.chance(0.3) ? this.actors : [a, b]) {
      actor.doc = A.change(actor.doc, this.opts(), d => {
        if (!Array.isArray(d.items)) d.items = []
        const length = d.items.length
        const i = where === 'front' ? 0 : where === 'end' ? length : index % (length + 1)
        d.items.insertAt(i, this.item())
      })
    }
  }

  two () {
    const a = this.pick(this.actors)
    let b = this.pick(this.actors)
    if (a === b) b = this.actors[(this.actors.indexOf(a) + 1) % this.actors.length]
    return [a, b]
  }

  item () {
    const item = { text: this.words(), done: this.chance(0.3) }
    if (this.chance(0.2)) item.votes = new A.Counter(this.int(5))
    if (this.chance(0.15)) item.tags = [this.words(), this.words()]
    if (this.chance(0.1)) item.note = new A.ImmutableString(this.words())
    return item
  }

  words () {
    const words = ['milk', 'eggs', 'bread', 'tea', 'jam', 'rice', 'ü', '日本', '🍎', '']
    const n = 1 + this.int(3)
    return Array.from({ length: n }, () => this.pick(words)).join(' ')
  }

  value (depth) {
    const r = this.int(depth > 0 ? 14 : 10)
    switch (r) {
      case 0: return this.int(1000) - 500
      case 1: return this.random() * 100
      case 2: return this.chance(0.5)
      case 3: return null
      case 4: return this.words()
      case 5: return new A.ImmutableString(this.words())
      case 6: return new A.Counter(this.int(10))
      case 7: return new Date(1_700_000_000_000 + this.int(1e9))
      case 8: return new Uint8Array([this.int(256), this.int(256)])
      case 9: return new A.Uint(this.int(1 << 30))
      case 10: return { a: this.value(depth - 1), b: [this.value(depth - 1)] }
      case 11: return [this.value(depth - 1), this.value(depth - 1)]
      case 12: return this.item()
      default: return [[this.int(9)], { deep: { deeper: this.words() } }]
    }
  }

  ops (d, n) {
    for (let i = 0; i < n; i++) {
      try {
        this.count(`op ${this.op(d)}`)
      } catch (error) {
        // A few random ops do not fit the document's current shape (e.g. a
        // counter overwritten concurrently): Automerge refuses them in the
        // change callback, before any op is made, so the rest of the change
        // goes on.
        // (Automerge's wasm throws strings, its JavaScript throws Errors.)
        const automerge = typeof error === 'string' ||
          String(error && error.stack).includes('@automerge')
        if (!automerge) throw error
        this.count('op refused by Automerge')
      }
    }
  }

  op (d) {
    if (!Array.isArray(d.items)) d.items = []
    const items = d.items
    const length = items.length
    const r = this.int(22)
    const at = length ? this.int(length) : 0
    const item = length ? items[at] : null
    const isItem = item && typeof item === 'object' && !Array.isArray(item)
    this.count(`op ${r} tried`)
    switch (r) {
      case 0: items.unshift(this.item()); break
      case 1: items.push(this.item()); break
      case 2: items.insertAt(this.int(length + 1), this.item()); break
      case 3: items.insertAt(this.int(length + 1), this.item(), this.item()); break
      case 4: if (length) items.deleteAt(at); break
      case 5: if (length) items.splice(at, 1 + this.int(2)); break
      case 6: { // move: delete and insert a copy elsewhere
        if (!length) break
        const copy = JSON.parse(JSON.stringify(items[at]))
        items.deleteAt(at)
        items.insertAt(this.int(length), copy ?? this.item())
        break
      }
      case 7: if (isItem) item.done = !item.done; break
      case 8: case 9: { // edit collaborative text
        if (!isItem || typeof item.text !== 'string') break
        const text = item.text
        const pos = this.int(text.length + 1)
        const del = this.int(Math.min(3, text.length - pos) + 1)
        A.splice(d, ['items', at, 'text'], pos, del, this.chance(0.8) ? this.words() : '')
        break
      }
      case 10: {
        if (!isItem || typeof item.text !== 'string') break
        A.updateText(d, ['items', at, 'text'], this.words() + item.text.slice(2))
        break
      }
      case 11: {
        if (!this.marks) break
        if (!isItem || typeof item.text !== 'string' || !item.text.length) break
        const start = this.int(item.text.length)
        const end = start + 1 + this.int(item.text.length - start)
        const expand = this.pick(['before', 'after', 'both', 'none'])
        if (this.chance(0.8)) {
          const name = this.pick(['bold', 'italic', 'link'])
          const value = name === 'link' ? 'https://example.com/' + this.int(9) : true
          A.mark(d, ['items', at, 'text'], { start, end, expand }, name, value)
        } else {
          A.unmark(d, ['items', at, 'text'], { start, end, expand }, 'bold')
        }
        break
      }
      case 12: {
        if (!isItem) break
        if (A.isCounter(item.votes)) item.votes.increment(this.int(7) - 3)
        else item.votes = new A.Counter(1)
        break
      }
      case 13: {
        if (!d.meta || typeof d.meta !== 'object' || Array.isArray(d.meta)) {
          d.meta = { tags: [], info: {}, hits: new A.Counter(0) }
        } else if (A.isCounter(d.meta.hits)) {
          d.meta.hits.increment(1 + this.int(3))
        } else {
          d.meta.hits = new A.Counter(0)
        }
        break
      }
      case 14: {
        if (!d.meta || typeof d.meta !== 'object' || Array.isArray(d.meta)) break
        if (!Array.isArray(d.meta.tags)) d.meta.tags = []
        const tags = d.meta.tags
        if (tags.length && this.chance(0.4)) tags.deleteAt(this.int(tags.length))
        else tags.insertAt(this.int(tags.length + 1), this.value(1))
        break
      }
      case 15: {
        if (!d.meta || typeof d.meta !== 'object' || Array.isArray(d.meta)) break
        if (!d.meta.info || typeof d.meta.info !== 'object') d.meta.info = {}
        const key = this.pick(['a', 'b', 'c', 'long key', ''])
        if (key in d.meta.info && this.chance(0.4)) delete d.meta.info[key]
        else d.meta.info[key] = this.value(2)
        break
      }
      case 16: d.title = this.chance(0.5) ? this.words() : new A.ImmutableString(this.words()); break
      case 17: {
        const key = this.pick(['flag', 'n', 'when', 'blob', 'meta', 'extra'])
        if (key in d && this.chance(0.4)) delete d[key]
        else d[key] = this.value(2)
        break
      }
      case 18: {
        if (!isItem) break
        if (Array.isArray(item.tags) && item.tags.length) {
          item.tags.insertAt(0, this.words())
          if (this.chance(0.5)) item.tags.deleteAt(item.tags.length - 1)
        } else {
          item.tags = [this.words()]
        }
        break
      }
      case 19: if (isItem) delete item[this.pick(['tags', 'votes', 'note', 'done'])]; break
      case 20: if (length) items[at] = this.item(); break // overwrite a list element
      default: {
        if (typeof d.title === 'string') {
          A.splice(d, ['title'], this.int(d.title.length + 1), 0, this.words())
        } else {
          d.title = this.words()
        }
      }
    }
    return r
  }

  // --- upload plans -------------------------------------------------------------

  output () {
    const final = this.final
    const changes = A.getAllChanges(final)
    this.changes = changes.map(bytes => ({ bytes, ...A.decodeChange(bytes) }))
    this.byHash = new Map(this.changes.map(c => [c.hash, c]))
    const plans = {
      causal: changes,
      each: this.randomOrder(this.changes).map(c => c.bytes),
      batches: this.batches(this.randomOrder(this.changes), false),
      shuffled: this.batches(this.randomOrder(this.changes), true),
      browser: this.browser,
      save_first: this.saveFirst(),
      compaction: this.compaction(),
      saves: this.actors.map(actor => A.save(actor.doc))
    }
    const encoded = {}
    for (const [name, bodies] of Object.entries(plans)) encoded[name] = bodies.map(b64)
    return {
      actors: this.actors.length,
      stats: this.stats,
      changes: changes.length,
      heads: A.getHeads(final).sort(),
      doc: plain(final),
      save: b64(A.save(final)),
      plans: encoded
    }
  }

  // A random linear extension of the dependency order of ``changes``.
  randomOrder (changes) {
    const wanted = new Set(changes.map(c => c.hash))
    const placed = new Set()
    const order = []
    let ready = changes.filter(c => c.deps.every(d => !wanted.has(d)))
    const waiting = new Set(changes.filter(c => !ready.includes(c)))
    while (ready.length) {
      const i = this.int(ready.length)
      const next = ready[i]
      ready.splice(i, 1)
      order.push(next)
      placed.add(next.hash)
      for (const c of [...waiting]) {
        if (c.deps.every(d => placed.has(d) || !wanted.has(d))) {
          waiting.delete(c)
          ready.push(c)
        }
      }
    }
    if (waiting.size) throw new Error('cycle in change dependencies')
    return order
  }

  batches (order, shuffle) {
    const out = []
    let at = 0
    while (at < order.length) {
      const size = 1 + this.int(this.chance(0.2) ? 20 : 6)
      const batch = order.slice(at, at + size)
      if (shuffle) batch.sort(() => this.random() - 0.5)
      out.push(concat(batch.map(c => c.bytes)))
      at += size
    }
    return out
  }

  hashesOf (saved) {
    return new Set(A.getAllChanges(A.load(saved)).map(c => A.decodeChange(c).hash))
  }

  saveOf (changes) {
    try {
      return A.save(A.load(concat(changes.map(c => c.bytes))))
    } catch (error) {
      // Automerge 3.5 panics loading some dependency-closed sets of changes
      // ("assertion `left == right` failed"); use a final save() instead.
      this.count('prefix that Automerge cannot load')
      return A.save(this.pick(this.actors).doc)
    }
  }

  saveFirst () {
    const options = [...this.snapshots, ...this.actors.map(a => A.save(a.doc))]
    const saved = this.pick(options)
    const have = this.hashesOf(saved)
    const rest = this.changes.filter(c => !have.has(c.hash))
    return [saved, ...this.batches(this.randomOrder(rest), false)]
  }

  compaction () {
    const order = this.randomOrder(this.changes)
    const out = []
    let at = 0
    let saves = 0
    while (at < order.length || !saves) {
      if (at && (this.chance(0.25) || (at === order.length && !saves))) {
        saves += 1
        const kind = this.int(3)
        if (kind === 0 || (kind === 2 && !this.snapshots.length)) {
          out.push(this.saveOf(order.slice(0, at))) // exactly what is stored
        } else if (kind === 1) {
          const further = at + 1 + this.int(Math.max(order.length - at, 1))
          out.push(this.saveOf(order.slice(0, further))) // stored and more
        } else {
          out.push(this.pick(this.snapshots)) // maybe concurrent with what is stored
        }
      }
      if (at === order.length) break
      const size = 1 + this.int(5)
      out.push(concat(order.slice(at, at + size).map(c => c.bytes)))
      at = Math.min(at + size, order.length)
    }
    return out
  }
}

function generate (steps, features, seeds) {
  const out = {}
  for (const seed of seeds) out[seed] = new History(seed, steps, features).run()
  process.stdout.write(JSON.stringify(out))
}

function load () {
  const input = JSON.parse(fs.readFileSync(0, 'utf8'))
  const out = {}
  for (const [key, data] of Object.entries(input)) {
    try {
      const doc = A.load(new Uint8Array(Buffer.from(data, 'base64')))
      out[key] = { heads: A.getHeads(doc).sort(), doc: plain(doc) }
    } catch (error) {
      out[key] = { error: String(error && error.message ? error.message : error) }
    }
  }
  process.stdout.write(JSON.stringify(out))
}

const [command, ...args] = process.argv.slice(2)
if (command === 'generate') {
  const features = {
    marks: !args.includes('--no-marks'),
    empty: !args.includes('--no-empty')
  }
  const rest = args.filter(a => !a.startsWith('--'))
  generate(Number(rest[0]), features, rest.slice(1).map(Number))
} else if (command === 'load') {
  load()
} else {
  console.error('usage: random_histories.mjs generate [--no-marks] [--no-empty] <steps> <seed>... | load')
  process.exit(2)
}
