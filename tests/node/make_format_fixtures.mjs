// Writes Automerge binary fixtures, and what Automerge itself says about them, for
// tests/test_automerge_format.py.
//
//   node tests/node/make_format_fixtures.mjs OUT_DIR
//
// For each case, OUT_DIR/<case>/ gets:
//   save.bin          Automerge.save(doc): one document chunk
//   changes.bin       every change (Automerge.getAllChanges), concatenated
//   incremental.bin   the outputs of Automerge.saveIncremental, concatenated
//   since.bin         Automerge.saveSince(doc, sinceHeads)
//   expected.json     per change (decodeChange): hash, actor, seq, deps, startOp,
//                     time, message, opCount, byte length; plus heads, actors,
//                     numOps (Automerge.stats: the ops of the document, which
//                     leaves delete ops out), sinceHashes (the changes saveSince
//                     wrote) and incremental blob lengths.
// Automerge never writes a compressed (type 2) change chunk from these APIs: a
// single change of ~20 KB still comes out of getChanges, saveIncremental and
// saveSince as a plain type 1 chunk. So the "compressed_change" case builds one
// as the spec describes (DEFLATE the chunk data; keep the checksum of the
// uncompressed chunk; type 2) and checks that Automerge.load accepts it and
// decodeChange gives the original hash.
import * as Automerge from '@automerge/automerge'
import { deflateRawSync } from 'node:zlib'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const outDir = process.argv[2]
if (!outDir) {
  console.error('usage: node tests/node/make_format_fixtures.mjs OUT_DIR')
  process.exit(2)
}

const ACTORS = ['aaaa0001', 'bbbb0002', 'cccc0003'].map((a) => a.padEnd(32, '0'))
const TIME = 1_700_000_000

function concat(blobs) {
  return Buffer.concat(blobs.map((b) => Buffer.from(b)))
}

function uleb(n) {
  const out = []
  do {
    let byte = n & 0x7f
    n = Math.floor(n / 128)
    if (n) byte |= 0x80
    out.push(byte)
  } while (n)
  return out
}

function readUleb(buf, pos) {
  let result = 0
  let scale = 1
  for (;;) {
    const byte = buf[pos++]
    result += (byte & 0x7f) * scale
    scale *= 128
    if (!(byte & 0x80)) return [result, pos]
  }
}

// A compressed change chunk per the spec: same magic and checksum, type 2,
// then the length and DEFLATE of the change chunk's data.
function compressChange(change) {
  const [length, start] = readUleb(change, 9)
  const deflated = deflateRawSync(Buffer.from(change.subarray(start, start + length)))
  return Buffer.concat([
    Buffer.from(change.subarray(0, 8)),
    Buffer.from([2, ...uleb(deflated.length)]),
    deflated,
  ])
}

function describe(change) {
  const d = Automerge.decodeChange(change)
  return {
    hash: d.hash,
    actor: d.actor,
    seq: d.seq,
    deps: d.deps,
    startOp: d.startOp,
    time: d.time,
    message: d.message ?? null,
    opCount: d.ops.length,
    length: change.length,
  }
}

function actorsOf(changes) {
  return [...new Set(changes.map((c) => c.actor))].sort()
}

// Builds one case: `build(state)` edits state.doc, and may call state.checkpoint()
// to take a saveIncremental, and state.markSince() to remember heads for saveSince.
function writeCase(name, build) {
  const state = {
    doc: Automerge.init({ actor: ACTORS[0] }),
    incremental: [],
    sinceHeads: [],
    sinceDoc: null,
    checkpoint() {
      this.incremental.push(Automerge.saveIncremental(this.doc))
    },
    markSince() {
      this.sinceHeads = Automerge.getHeads(this.doc)
      this.sinceDoc = Automerge.clone(this.doc)
    },
  }
  state.markSince()
  const extra = build(state) || {}
  state.checkpoint()
  const doc = state.doc
  const changes = Automerge.getAllChanges(doc)
  const described = changes.map(describe)
  const since = Automerge.saveSince(doc, state.sinceHeads)
  const sinceHashes = Automerge.getChanges(state.sinceDoc, doc).map(
    (c) => Automerge.decodeChange(c).hash,
  )
  const save = Automerge.save(doc)
  const reloaded = Automerge.load(save)
  if (JSON.stringify(Automerge.getHeads(reloaded)) !== JSON.stringify(Automerge.getHeads(doc))) {
    throw new Error(`${name}: save() does not reload to the same heads`)
  }
  const dir = join(outDir, name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'save.bin'), save)
  writeFileSync(join(dir, 'changes.bin'), concat(changes))
  writeFileSync(join(dir, 'incremental.bin'), concat(state.incremental))
  writeFileSync(join(dir, 'since.bin'), since)
  for (const [file, bytes] of Object.entries(extra.files || {})) {
    writeFileSync(join(dir, file), bytes)
  }
  const expected = {
    case: name,
    heads: Automerge.getHeads(doc),
    actors: actorsOf(described),
    numOps: Automerge.stats(reloaded).numOps,
    changes: described,
    sinceHashes,
    incrementalLengths: state.incremental.map((b) => b.length),
    ...(extra.expected || {}),
  }
  writeFileSync(join(dir, 'expected.json'), JSON.stringify(expected, null, 1))
  return expected
}

const cases = {}

cases.empty = writeCase('empty', () => {})

cases.one_change = writeCase('one_change', (s) => {
  s.doc = Automerge.change(s.doc, { time: TIME }, (d) => {
    d.items = [{ text: 'buy milk', done: false }]
  })
})

cases.thousand_changes = writeCase('thousand_changes', (s) => {
  s.doc = Automerge.change(s.doc, { time: TIME }, (d) => {
    d.items = []
  })
  for (let i = 0; i < 999; i++) {
    s.doc = Automerge.change(s.doc, { time: TIME + i }, (d) => {
      if (i % 3 === 2) d.items[d.items.length - 1].done = true
      else d.items.push({ text: `item ${i}`, done: false })
    })
    if (i % 100 === 99) s.checkpoint()
    if (i === 499) s.markSince()
  }
})

cases.concurrent = writeCase('concurrent', (s) => {
  s.doc = Automerge.change(s.doc, { time: TIME }, (d) => {
    d.items = [{ text: 'shared', done: false }]
    d.title = 'groceries'
  })
  s.markSince()
  let b = Automerge.clone(s.doc, { actor: ACTORS[1] })
  let c = Automerge.clone(s.doc, { actor: ACTORS[2] })
  for (let i = 0; i < 5; i++) {
    s.doc = Automerge.change(s.doc, (d) => {
      d.items.push({ text: `a${i}`, done: false })
    })
    b = Automerge.change(b, (d) => {
      d.items.unshift({ text: `b${i}`, done: i % 2 === 0 })
      d.title = `b title ${i}`
    })
    c = Automerge.change(c, (d) => {
      d.items[0].done = !d.items[0].done
      d.title = `c title ${i}`
    })
  }
  s.doc = Automerge.merge(s.doc, b)
  s.doc = Automerge.merge(s.doc, c)
  s.doc = Automerge.change(s.doc, (d) => {
    d.items.push({ text: 'after merge', done: false })
  })
  b = Automerge.merge(b, s.doc)
  b = Automerge.change(b, (d) => {
    d.items[1].done = true
  })
  s.doc = Automerge.merge(s.doc, b)
})

cases.text_edits = writeCase('text_edits', (s) => {
  s.doc = Automerge.change(s.doc, (d) => {
    d.items = [{ text: 'hello world', done: false }]
  })
  s.doc = Automerge.change(s.doc, (d) => {
    Automerge.splice(d, ['items', 0, 'text'], 5, 0, ', dear')
  })
  s.doc = Automerge.change(s.doc, (d) => {
    Automerge.updateText(d, ['items', 0, 'text'], 'hello there, dear wörld ✓')
  })
  s.doc = Automerge.change(s.doc, (d) => {
    Automerge.splice(d, ['items', 0, 'text'], 0, 5, 'Ｈｅｌｌｏ 🌍')
  })
  s.doc = Automerge.change(s.doc, (d) => {
    const range = { start: 0, end: 5, expand: 'both' }
    Automerge.mark(d, ['items', 0, 'text'], range, 'bold', true)
    Automerge.mark(d, ['items', 0, 'text'], { start: 2, end: 8 }, 'link', 'https://x.org')
  })
  s.doc = Automerge.change(s.doc, (d) => {
    Automerge.unmark(d, ['items', 0, 'text'], { start: 0, end: 3 }, 'bold')
  })
})

cases.deletions = writeCase('deletions', (s) => {
  s.doc = Automerge.change(s.doc, (d) => {
    d.items = []
    for (let i = 0; i < 20; i++) d.items.push({ text: `item ${i}`, done: false })
    d.title = 'to delete'
    d.count = new Automerge.Counter(0)
  })
  s.doc = Automerge.change(s.doc, (d) => {
    d.items.splice(3, 5)
    d.items.deleteAt(0)
    delete d.title
    d.count.increment(3)
  })
  s.doc = Automerge.change(s.doc, (d) => {
    Automerge.splice(d, ['items', 0, 'text'], 0, 4)
    d.count.decrement(1)
    d.items[1].done = true
    d.flags = [true, null, 1.5, -7, 2 ** 40, new Uint8Array([1, 2, 3]), new Date(0)]
  })
})

cases.large_document = writeCase('large_document', (s) => {
  s.doc = Automerge.change(s.doc, { time: TIME }, (d) => {
    d.items = []
  })
  for (let batch = 0; batch < 10; batch++) {
    s.doc = Automerge.change(s.doc, { time: TIME + batch }, (d) => {
      for (let i = 0; i < 500; i++) {
        d.items.push({ text: `todo number ${batch * 500 + i}`, done: i % 7 === 0 })
      }
    })
  }
})

cases.message_and_time = writeCase('message_and_time', (s) => {
  s.doc = Automerge.change(s.doc, { message: 'first: add a list', time: TIME }, (d) => {
    d.items = [{ text: 'x', done: false }]
  })
  s.doc = Automerge.change(s.doc, { message: 'ünïcødé message ✓', time: -5 }, (d) => {
    d.items[0].done = true
  })
  s.doc = Automerge.change(s.doc, { time: 0 }, (d) => {
    d.items[0].text = 'y'
  })
})

cases.compressed_change = writeCase('compressed_change', (s) => {
  s.doc = Automerge.change(s.doc, { time: TIME }, (d) => {
    d.items = []
  })
  const base = Automerge.getAllChanges(s.doc)
  s.doc = Automerge.change(s.doc, { time: TIME, message: 'big' }, (d) => {
    for (let i = 0; i < 400; i++) d.items.push({ text: `entry ${i}`, done: false })
  })
  const big = Automerge.getAllChanges(s.doc)[1]
  const compressed = compressChange(big)
  const loaded = Automerge.load(concat([...base, compressed]))
  if (JSON.stringify(Automerge.getHeads(loaded)) !== JSON.stringify(Automerge.getHeads(s.doc))) {
    throw new Error('compressed_change: Automerge.load does not accept the type 2 chunk')
  }
  const compressedHash = Automerge.decodeChange(compressed).hash
  return {
    files: { 'compressed.bin': compressed },
    expected: { compressed: { ...describe(big), hash: compressedHash, length: compressed.length } },
  }
})

writeFileSync(join(outDir, 'cases.json'), JSON.stringify(Object.keys(cases)))
console.log(`wrote ${Object.keys(cases).length} cases to ${outDir}`)
