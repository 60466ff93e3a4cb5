// The Procfile's processes give their startup garbage back once ready (lib/startup-garbage.ts):
// the flag that allows it is on every line, and the call compacts the heap only where it is.
import t from 'tap'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { procfile, root } from './processes'

const run = promisify(execFile)
const SERVICES = ['api', 'worker', 'push']
const flagsOf = (name: string): string[] => (procfile().get(name) ?? '').split(' ').filter((word) => word.startsWith('--'))

t.test('every service in the Procfile may release its startup garbage', async (t) => {
  for (const name of SERVICES) t.ok(flagsOf(name).includes('--expose-gc'), `${name} runs with --expose-gc`)
})

// Startup-like garbage: 200,000 objects old enough to be promoted, then dropped.
const PROGRAM = `
const { releaseStartupGarbage } = require(${JSON.stringify(join(root, 'lib', 'startup-garbage.ts'))})
let kept = []
for (let i = 0; i < 200000; i++) kept.push({ i, name: 'schema ' + i })
for (let i = 0; i < 20; i++) new Array(100000).fill(i)
kept = null
const before = process.memoryUsage().heapTotal
console.log('ready')
const released = releaseStartupGarbage()
console.log('released:', released, 'heap', before, '->', process.memoryUsage().heapTotal)
`

async function runWith (flags: string[]): Promise<{ released: boolean, before: number, after: number, collectedOnce: boolean }> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', ...flags, '--trace-gc', '-e', PROGRAM], { cwd: root, maxBuffer: 16 << 20 })
  const [, released, before, after] = /released: (true|false) heap (\d+) -> (\d+)/.exec(stdout) ?? []
  const between = stdout.slice(stdout.indexOf('ready\n'), stdout.indexOf('released:'))
  return { released: released === 'true', before: Number(before), after: Number(after), collectedOnce: /Mark-Compact \(reduce\)/.test(between) }
}

t.test('with the Procfile\'s flags, one memory-reducing collection shrinks the heap', async (t) => {
  const result = await runWith(flagsOf('api'))
  t.ok(result.released, 'released')
  t.ok(result.collectedOnce, 'a memory-reducing mark-compact ran')
  t.ok(result.after < result.before * 0.75, `heap ${result.before} -> ${result.after} bytes`)
})

t.test('without --expose-gc (npm start, the tests\' apps) nothing is collected', async (t) => {
  const result = await runWith([])
  t.notOk(result.released, 'not released')
  t.notOk(result.collectedOnce, 'no collection')
})
