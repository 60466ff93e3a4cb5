import t from 'tap'
import fc from 'fast-check'
import { basic, buildTestApi, createUser } from '../helper'
import { LoginGuard } from '../../lib/login-limiter'

const LIMITS = { LOGIN_FAILURES_PER_NICKNAME: 5, LOGIN_FAILURES_PER_ADDRESS: 20, LOGIN_NICKNAME_DELAY_MS: 200, TRUST_PROXY: true }

t.test('the owner signs in from a clean address while others guess the password from many', async (t) => {
  const app = await buildTestApi(t, LIMITS)
  const owner = await createUser(app)
  const signIn = (address: string, password: string) => app.inject({
    method: 'POST', url: '/api/tokens', headers: { authorization: basic(owner.nickname, password), 'x-forwarded-for': address },
  })
  // 8 addresses, 4 bad guesses each: 32 failures for the nickname, none past a per-address limit.
  for (let i = 0; i < 4; i++) {
    const round = await Promise.all(Array.from({ length: 8 }, (_, a) => signIn(`198.51.100.${a}`, `wrong ${i}`)))
    t.same(round.map((r) => r.statusCode), Array(8).fill(401))
  }
  const started = Date.now()
  const res = await signIn('203.0.113.7', owner.password)
  t.equal(res.statusCode, 200, `the owner is not refused: ${res.body}`)
  t.ok(Date.now() - started >= 150, 'but slowed down like every attempt on a nickname under attack')

  // Guesses from one address stop at the per (nickname, address) limit, with Retry-After.
  const attacker = '198.51.100.200'
  const answers = []
  for (let i = 0; i < 7; i++) answers.push((await signIn(attacker, `guess ${i}`)).statusCode)
  t.same(answers, [401, 401, 401, 401, 401, 429, 429])
  const refused = await signIn(attacker, owner.password)
  t.equal(refused.statusCode, 429, 'even the right password, from the address that guessed')
  t.ok(Number(refused.headers['retry-after']) > 0)
})

t.test('parallel guesses cannot slip under the limits', async (t) => {
  const app = await buildTestApi(t, LIMITS)
  const owner = await createUser(app)
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => app.inject({
    method: 'POST', url: '/api/tokens', headers: { authorization: basic(owner.nickname, `wrong ${i}`), 'x-forwarded-for': '192.0.2.9' },
  })))
  const checked = answers.filter((r) => r.statusCode === 401).length
  t.equal(checked, 5, `${checked} of 20 parallel guesses were checked`)
  t.equal(answers.filter((r) => r.statusCode === 429).length, 15)
})

t.test('one address guessing many nicknames is refused at the per-address limit', async (t) => {
  const app = await buildTestApi(t, LIMITS)
  const statuses: number[] = []
  for (let i = 0; i < 22; i++) {
    statuses.push((await app.inject({
      method: 'POST', url: '/api/tokens', headers: { authorization: basic(`nobody${i}`, 'wrong password'), 'x-forwarded-for': '192.0.2.50' },
    })).statusCode)
  }
  t.same(statuses, [...Array(20).fill(401), 429, 429])
})

interface Op { address: number, nickname: number, outcome: 'wrong' | 'right' | 'unchecked', advanceMs: number }

t.test('property: limits per (nickname, address) and per address refuse; per nickname only slow; a clean address is never refused', async (t) => {
  const limits = { perPair: 3, perAddress: 7, windowMs: 60_000, nicknameDelayMs: 500 }
  const op = fc.record({ address: fc.nat(5), nickname: fc.nat(3), outcome: fc.constantFrom<Op['outcome']>('wrong', 'wrong', 'right', 'unchecked'), advanceMs: fc.constantFrom(0, 0, 0, 1000, 30_000, 61_000) })
  fc.assert(fc.property(fc.array(op, { maxLength: 80 }), (ops: Op[]) => {
    const guard = new LoginGuard(limits)
    let now = 1_000_000
    // The model: failures recorded in the current window of each key.
    const failures = new Map<string, number[]>()
    const recent = (key: string): number => (failures.get(key) ?? []).filter((at) => at > now - limits.windowMs).length
    for (const { address, nickname, outcome, advanceMs } of ops) {
      now += advanceMs
      const pair = `${address}/${nickname}`
      const clean = recent(`a${address}`) === 0
      const verdict = guard.begin(`nick${nickname}`, `10.0.0.${address}`, now)
      if ('retryAfter' in verdict) {
        if (clean) return false
        if (recent(pair) < limits.perPair && recent(`a${address}`) < limits.perAddress) return false
        if (verdict.retryAfter <= 0 || verdict.retryAfter > limits.windowMs / 1000) return false
        continue
      }
      if (recent(pair) >= limits.perPair * 2 || recent(`a${address}`) >= limits.perAddress * 2) return false
      if (verdict.delayMs !== 0 && (verdict.delayMs !== limits.nicknameDelayMs || recent(`n${nickname}`) < limits.perPair)) return false
      if (outcome === 'right') {
        guard.succeeded(verdict.attempt)
        failures.delete(pair)
      } else if (outcome === 'unchecked') {
        // The database was out of reach: not a failure.
        guard.abandoned(verdict.attempt)
      } else {
        for (const key of [pair, `a${address}`, `n${nickname}`]) failures.set(key, [...(failures.get(key) ?? []), now])
      }
    }
    return true
  }), { numRuns: 2000, seed: 6 })
  t.pass('held for 2,000 generated sequences')
})
