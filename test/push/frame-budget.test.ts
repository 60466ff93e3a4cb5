import t from 'tap'
import { FrameBudget, type Verdict } from '../../services/push/frame-budget'

t.test('a full bucket takes `rate` frames at once, warns on the first over, closes once a second\'s worth more are dropped', async (t) => {
  const budget = new FrameBudget(5, 0)
  const verdicts: Verdict[] = []
  for (let i = 0; i < 12; i++) verdicts.push(budget.take(0))
  t.same(verdicts, ['take', 'take', 'take', 'take', 'take', 'warn', 'drop', 'drop', 'drop', 'drop', 'close', 'close'])
})

t.test('the bucket refills with time, and a taken frame forgives the drops before it', async (t) => {
  const budget = new FrameBudget(2, 0)
  t.same([budget.take(0), budget.take(0), budget.take(0)], ['take', 'take', 'warn'])
  t.equal(budget.take(500), 'take', 'half a second later: one frame back')
  t.equal(budget.take(500), 'warn', 'a new run of drops warns again')
  t.equal(budget.take(10_000), 'take', 'never more than `rate` saved up')
  t.equal(budget.take(10_000), 'take')
  t.equal(budget.take(10_000), 'warn')
})

// Rule: whatever the timing, no window of w ms takes more than rate * (1 + w / 1000) frames.
t.test('over random timings, frames taken never exceed the bucket plus its refill', async (t) => {
  let seed = 7
  const random = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
  for (let run = 0; run < 200; run++) {
    const rate = 1 + Math.floor(random() * 30)
    const budget = new FrameBudget(rate, 0)
    const taken: number[] = []
    let now = 0
    for (let i = 0; i < 300; i++) {
      now += random() < 0.8 ? random() * 5 : random() * 400
      if (budget.take(now) === 'take') taken.push(now)
    }
    for (let i = 0; i < taken.length; i++) {
      for (let j = i; j < taken.length; j++) {
        const allowed = rate * (1 + (taken[j] - taken[i]) / 1000)
        if (j - i + 1 > allowed + 1e-9) {
          t.fail(`run ${run}: ${j - i + 1} frames taken in ${taken[j] - taken[i]} ms at rate ${rate}`)
          return
        }
      }
    }
  }
  t.pass('200 random runs within the budget')
})
