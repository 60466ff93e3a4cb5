import t from 'tap'
import { OncePerInterval, Throttle } from '../../services/push/throttle'

t.test('Throttle allows a key once per interval', async (t) => {
  const throttle = new Throttle(1000)
  t.same([throttle.allow('a', 0), throttle.allow('a', 999), throttle.allow('b', 999), throttle.allow('a', 1000)], [true, false, true, true])
})

t.test('OncePerInterval runs the work once per key and interval, sharing the answer, and forgets a failure', async (t) => {
  const once = new OncePerInterval<number>(1000)
  let runs = 0
  const work = async (): Promise<number> => ++runs
  const answers = await Promise.all([once.run('k', work, 0), once.run('k', work, 10), once.run('k', work, 999)])
  t.same([answers, runs], [[1, 1, 1], 1], 'concurrent and later asks share the first run')
  t.equal(await once.run('k', work, 1000), 2, 'the next interval runs again')
  t.equal(await once.run('other', work, 1000), 3, 'each key on its own')

  const failing = once.run('f', async () => { throw new Error('down') }, 0)
  await t.rejects(failing)
  t.equal(await once.run('f', work, 1), 4, 'a failed run is not remembered')
})

// Rule: however many asks come, each key runs at most once per started interval.
t.test('over random asks, runs per key never exceed the intervals they span', async (t) => {
  let seed = 3
  const random = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
  const once = new OncePerInterval<boolean>(3000)
  const runs = new Map<string, number[]>()
  let now = 0
  for (let i = 0; i < 5000; i++) {
    now += random() * 20
    const key = `u${Math.floor(random() * 5)}:r${Math.floor(random() * 5)}`
    await once.run(key, async () => { runs.set(key, [...runs.get(key) ?? [], now]); return true }, now)
  }
  for (const [key, times] of runs) {
    for (let i = 1; i < times.length; i++) {
      if (times[i] - times[i - 1] < 3000) t.fail(`${key} ran twice within the interval`)
    }
  }
  t.pass(`${runs.size} keys, ${[...runs.values()].reduce((n, r) => n + r.length, 0)} runs over ${Math.round(now)} ms`)
})
