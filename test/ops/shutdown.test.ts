// One orderly shutdown ends with the exit code it was for, whatever its close does.
import t from 'tap'
import { join } from 'node:path'
import { killLeftovers, root, run } from './processes'

const TRIGGERS = ['SIGINT', 'SIGTERM', 'throw', 'reject', 'failed-start'] as const
const CLOSES = ['resolves', 'rejects', 'hangs-idle', 'hangs-busy'] as const
const FIXTURE = join(__dirname, 'fixtures', 'shutdown.ts')

// Rule: exit code 0 only when a signal asked for the shutdown and its close neither failed nor
// outlasted the grace period; a close left waiting on nothing must not turn an error into 0.
t.test('the exit code of every trigger and close behaviour', async (t) => {
  killLeftovers(t)
  const cases = TRIGGERS.flatMap((trigger) => CLOSES.map((close) => ({ trigger, close })))
  const outcomes = await Promise.all(cases.map(async ({ trigger, close }) => {
    const child = run(process.execPath, ['--import', 'tsx', FIXTURE, trigger, close], process.env, root)
    if (trigger.startsWith('SIG')) {
      await child.waitFor(/ready/, 30000)
      child.signal(trigger as NodeJS.Signals, 'top')
    }
    const { code } = await child.exit
    const expected = trigger.startsWith('SIG') && (close === 'resolves' || close === 'hangs-idle') ? 0 : 1
    return { trigger, close, code, expected, output: child.output() }
  }))
  const wrong = outcomes.filter((o) => o.code !== o.expected)
  t.same(wrong.map((o) => `${o.trigger}, close ${o.close}: exit ${String(o.code)}, want ${o.expected}`), [], `${cases.length} cases`)
  for (const o of wrong) t.comment(o.output)
})
