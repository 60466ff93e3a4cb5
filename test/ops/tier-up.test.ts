// The Procfile starts processes with V8's tier-up thresholds raised; lib/tier-up.ts puts V8's own
// back once a service is ready. Both the defaults it restores and the restoring are checked here.
import t from 'tap'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { V8_TIER_UP_DEFAULTS } from '../../lib/tier-up'
import { procfile, root } from './processes'

const run = promisify(execFile)

t.test('the thresholds restored are the running V8\'s own defaults', async (t) => {
  const { stdout } = await run(process.execPath, ['--v8-options'], { maxBuffer: 16 << 20 })
  for (const [flag, value] of Object.entries(V8_TIER_UP_DEFAULTS)) {
    t.match(stdout, new RegExp(`default: --${flag}=${value}\\n`), `--${flag} defaults to ${value}`)
  }
})

// The api's node flags in the Procfile (the three processes' lines have the same).
const procfileFlags = (): string[] => (procfile().get('api') ?? '').split(' ').filter((word) => word.startsWith('--'))

t.test('the Procfile raises only thresholds that lib/tier-up.ts restores', async (t) => {
  const raised = procfileFlags().filter((flag) => flag.startsWith('--invocation-count-'))
  t.ok(raised.length > 0, 'the Procfile raises tier-up thresholds')
  for (const flag of raised) t.ok(flag.slice(2, flag.indexOf('=')) in V8_TIER_UP_DEFAULTS, `${flag} is restored`)
})

// A function first called after the restore is marked for optimisation as in a process started
// with no flags; before it, the same number of calls marks nothing.
const PROGRAM = `
const { restoreTierUp } = require(${JSON.stringify(join(root, 'lib', 'tier-up.ts'))})
const work = (name) => { const f = new Function(\`return function \${name} (x) { return x * 2 + 1 }\`)(); let s = 0; for (let i = 0; i < 20000; i++) s += f(i); return s }
work('atStartup')
console.log('restored:', restoreTierUp().join(','))
work('afterReady')
`

t.test('a process started with the Procfile\'s flags optimises hot code once restored', async (t) => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', ...procfileFlags(), '--trace-opt', '-e', PROGRAM], { cwd: root, maxBuffer: 16 << 20 })
  // V8 logs the decision on the main thread; the compile itself runs on another and may not end before the exit.
  const marked = (name: string): boolean => new RegExp(`marking [^\\n]*<JSFunction ${name} [^\\n]*for optimization`).test(stdout)
  t.match(stdout, `restored: ${Object.keys(V8_TIER_UP_DEFAULTS).join(',')}`)
  t.notOk(marked('atStartup'), 'nothing optimised before the restore')
  t.ok(marked('afterReady'), 'optimised after it')
})
