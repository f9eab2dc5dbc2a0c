// Small command-line bridge to the real @automerge/automerge for Python tests.
//
//   node tests/node/automerge_cli.mjs inspect < doc.automerge
//       prints {"doc": <Automerge.toJS>, "heads": [...]} or exits 1 with the error
//   node tests/node/automerge_cli.mjs scenario <dir>
//       writes the byte strings of a two-device editing session into <dir> and an
//       index.json describing them (see makeScenario below)
import * as Automerge from '@automerge/automerge'
import fs from 'node:fs'
import path from 'node:path'

const ACTOR_A = 'aa'.repeat(16)
const ACTOR_B = 'bb'.repeat(16)
const ACTOR_C = 'cc'.repeat(16)

/** Read all of stdin as bytes. */
function readStdin () {
  return new Uint8Array(fs.readFileSync(0))
}

/** Load bytes and print the document and its heads as JSON. */
function inspect () {
  const doc = Automerge.load(readStdin())
  const plain = JSON.parse(JSON.stringify(Automerge.toJS(doc)))
  process.stdout.write(JSON.stringify({ doc: plain, heads: Automerge.getHeads(doc).sort() }))
}

/** Two devices edit one list, concurrently, with a third whose history is never uploaded. */
function makeScenario (dir) {
  fs.mkdirSync(dir, { recursive: true })
  const files = {}
  const put = (name, bytes) => {
    fs.writeFileSync(path.join(dir, name), bytes)
    files[name] = bytes.length
  }
  let a = Automerge.from({ title: 'Groceries', items: [] }, { actor: ACTOR_A })
  put('base', Automerge.save(a))
  let b = Automerge.clone(a, { actor: ACTOR_B })
  let c = Automerge.clone(a, { actor: ACTOR_C })

  a = Automerge.change(a, d => { d.items.push({ text: 'milk', done: false }) })
  put('a1', Automerge.saveIncremental(a))
  a = Automerge.change(a, d => { d.items[0].done = true })
  put('a2', Automerge.saveIncremental(a))
  put('full_a', Automerge.save(a))

  b = Automerge.change(b, d => { d.items.push({ text: 'eggs', done: false }) })
  put('b1', Automerge.getLastLocalChange(b))

  c = Automerge.change(c, d => { d.items.push({ text: 'never uploaded', done: false }) })
  c = Automerge.change(c, d => { d.items.push({ text: 'orphan', done: false }) })
  put('c_orphan', Automerge.getLastLocalChange(c))
  put('full_c', Automerge.save(c))

  const merged = Automerge.merge(Automerge.clone(a), b)
  put('full_merged', Automerge.save(merged))
  b = Automerge.change(b, d => { d.items[0].done = true })
  put('b2', Automerge.getLastLocalChange(b))
  put('empty', Automerge.save(Automerge.init()))
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    files,
    heads: {
      merged: Automerge.getHeads(merged).sort(),
      a: Automerge.getHeads(a).sort()
    }
  }))
}

const [command, arg] = process.argv.slice(2)
if (command === 'inspect') inspect()
else if (command === 'scenario') makeScenario(arg)
else {
  console.error('usage: automerge_cli.mjs inspect|scenario <dir>')
  process.exit(2)
}
