import t from 'tap'
import fc from 'fast-check'
import { basic, buildTestApi, createUser, testEnv } from '../helper'
import { LoginGuard, type LoginLimits } from '../../lib/login-limiter'
import { loadConfig } from '../../plugins/config'

const DELAY_MS = 100
const LIMITS = { LOGIN_FAILURES_PER_NICKNAME: 5, LOGIN_FAILURES_PER_ADDRESS: 20, LOGIN_NICKNAME_DELAY_MS: DELAY_MS, TRUST_PROXY: true }

t.test('many addresses guessing one nickname in parallel get a bounded number of checks, and the owner still signs in', async (t) => {
  const app = await buildTestApi(t, LIMITS)
  const owner = await createUser(app)
  const signIn = (address: string, password: string) => app.inject({
    method: 'POST', url: '/api/tokens', headers: { authorization: basic(owner.nickname, password), 'x-forwarded-for': address },
  })
  // 30 addresses, 5 guesses each, all at once: 150 guesses, none past a per-(nickname, address) limit.
  const started = Date.now()
  const guesses = Array.from({ length: 150 }, (_, i) => signIn(`198.51.100.${i % 30}`, `wrong ${i}`))
  // The owner comes once the first guesses have been checked: the nickname is under attack by then.
  await Promise.race(guesses)
  const ownerStarted = Date.now()
  const res = await signIn('203.0.113.7', owner.password)
  const ownerMs = Date.now() - ownerStarted
  const answers = await Promise.all(guesses)
  const elapsed = Date.now() - started
  t.equal(res.statusCode, 200, `the owner is not refused: ${res.body}`)
  t.ok(ownerMs >= DELAY_MS * 0.8, `but slowed down like every attempt on a nickname under attack (${ownerMs} ms)`)
  const checked = answers.filter((r) => r.statusCode === 401).length
  t.same(new Set(answers.map((r) => r.statusCode)), new Set(checked === 150 ? [401] : [401, 429]))
  // The first LOGIN_FAILURES_PER_NICKNAME go at once; past them, one check per delay at most.
  const bound = 5 + Math.floor(elapsed / DELAY_MS) + 1
  t.ok(checked <= bound, `${checked} of 150 guesses checked in ${elapsed} ms (at most ${bound})`)
})

t.test('an IPv6 /64 counts as one address', async (t) => {
  const app = await buildTestApi(t, LIMITS)
  const statuses: number[] = []
  for (let i = 0; i < 22; i++) {
    statuses.push((await app.inject({
      method: 'POST', url: '/api/tokens', headers: { authorization: basic(`nobody${i}`, 'wrong password'), 'x-forwarded-for': `2001:db8:1:2::${(i + 1).toString(16)}` },
    })).statusCode)
  }
  t.same(statuses, [...Array(20).fill(401), 429, 429])
  const neighbour = await app.inject({
    method: 'POST', url: '/api/tokens', headers: { authorization: basic('nobody', 'wrong password'), 'x-forwarded-for': '2001:db8:1:3::1' },
  })
  t.equal(neighbour.statusCode, 401, 'the next /64 is another address')
})

t.test('TRUST_PROXY as a list of proxies: the address is the first untrusted hop, not what the client wrote', async (t) => {
  const app = await buildTestApi(t, { ...LIMITS, TRUST_PROXY: '127.0.0.1, 192.168.0.0/16' })
  const attempt = (forwarded: string, nickname: string) => app.inject({
    method: 'POST', url: '/api/tokens', headers: { authorization: basic(nickname, 'wrong password'), 'x-forwarded-for': forwarded },
  })
  // A client forging a new left-most entry each time still comes from 10.0.0.9 (through the trusted 192.168.1.1 and 127.0.0.1).
  const statuses: number[] = []
  for (let i = 0; i < 21; i++) statuses.push((await attempt(`6.6.${i}.6, 10.0.0.9, 192.168.1.1`, `nobody${i}`)).statusCode)
  t.same(statuses, [...Array(20).fill(401), 429])
  t.equal((await attempt('6.6.6.6, 10.0.0.8', 'nobody')).statusCode, 401, 'another client is another address')
})

t.test('TRUST_PROXY is false, true or a list of proxy addresses, checked at start', async (t) => {
  const env = await testEnv(t)
  t.equal(loadConfig(env).TRUST_PROXY, false)
  t.equal(loadConfig({ ...env, TRUST_PROXY: 'true' }).TRUST_PROXY, true)
  t.equal(loadConfig({ ...env, TRUST_PROXY: true }).TRUST_PROXY, true)
  t.equal(loadConfig({ ...env, TRUST_PROXY: 'false' }).TRUST_PROXY, false)
  t.same(loadConfig({ ...env, TRUST_PROXY: ' 10.0.0.1, 192.168.0.0/16,loopback, ::1, fd00::/8' }).TRUST_PROXY,
    ['10.0.0.1', '192.168.0.0/16', 'loopback', '::1', 'fd00::/8'])
  for (const bad of ['yes', '1', '2', '10.0.0.0/33', '10.0.0', 'nginx', '10.0.0.1,,10.0.0.2', '::1/129']) {
    t.throws(() => loadConfig({ ...env, TRUST_PROXY: bad }), /TRUST_PROXY/, bad)
  }
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
  t.ok(answers.filter((r) => r.statusCode === 429).every((r) => Number(r.headers['retry-after']) > 0), 'with Retry-After')
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

t.test('a flood of other keys cannot reset the count of a nickname under attack', async (t) => {
  const limits: LoginLimits = { perPair: 3, perAddress: 50, windowMs: 60_000, nicknameDelayMs: 1000 }
  const guard = new LoginGuard(limits, 1000)
  const now = 1_000_000
  for (let i = 0; i < 3; i++) guard.begin('victim', `10.0.0.${i}`, now)
  // Distinct nicknames from distinct addresses: many more keys than the limiter keeps.
  for (let i = 0; i < 33_500; i++) guard.begin(`flood${i}`, `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, now + 1)
  const verdict = guard.begin('victim', '203.0.113.1', now + 2)
  t.ok('delayMs' in verdict && verdict.delayMs > 0, `the victim's nickname is still under attack: ${JSON.stringify(verdict)}`)
})

// The limiter's rules restated: fixed windows per key, starting at a key's first failure.
class Model {
  private readonly windows = new Map<string, { count: number, resetAt: number }>()
  private readonly slots = new Map<number, number>()
  constructor (private readonly limits: LoginLimits, private readonly backlogMs: number) {}
  count (key: string, now: number): number {
    const w = this.windows.get(key)
    return w === undefined || w.resetAt <= now ? 0 : w.count
  }

  refusedFor (key: string, limit: number, now: number): number {
    return this.count(key, now) >= limit ? Math.ceil((this.windows.get(key)!.resetAt - now) / 1000) : 0
  }

  fail (key: string, now: number): void {
    const w = this.windows.get(key)
    if (w === undefined || w.resetAt <= now) this.windows.set(key, { count: 1, resetAt: now + this.limits.windowMs })
    else w.count++
  }

  forget (key: string): void { this.windows.delete(key) }
  // What the guard must answer: a refusal's Retry-After, or the wait before the check.
  expect (address: number, nickname: number, now: number): { retryAfter: number } | { delayMs: number } {
    const retryAfter = Math.max(this.refusedFor(`p${address}/${nickname}`, this.limits.perPair, now), this.refusedFor(`a${address}`, this.limits.perAddress, now))
    if (retryAfter > 0) return { retryAfter }
    if (this.count(`n${nickname}`, now) < this.limits.perPair) return { delayMs: 0 }
    const slot = Math.max(now, this.slots.get(nickname) ?? 0) + this.limits.nicknameDelayMs
    if (slot - now > this.backlogMs && this.count(`a${address}`, now) > 0) return { retryAfter: Math.ceil((slot - now - this.backlogMs) / 1000) }
    this.slots.set(nickname, slot)
    return { delayMs: slot - now }
  }
}

interface Op { address: number, nickname: number, outcome: 'wrong' | 'right' | 'unchecked', advanceMs: number }

t.test('property: refusals exactly at the limits, a clean address never refused, wrong guesses on a nickname bounded per window', async (t) => {
  const limits = { perPair: 3, perAddress: 7, windowMs: 60_000, nicknameDelayMs: 15_000 }
  const backlogMs = 10 * limits.nicknameDelayMs
  // Any span of one window holds at most two fixed windows' undelayed guesses and one delayed guess per delay.
  const bound = 2 * limits.perPair + Math.floor(limits.windowMs / limits.nicknameDelayMs) + 1
  const op = fc.record({ address: fc.nat(4), nickname: fc.nat(1), outcome: fc.constantFrom<Op['outcome']>('wrong', 'wrong', 'wrong', 'right', 'unchecked'), advanceMs: fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 0, 1000, 30_000, 61_000) })
  let refusals = 0
  let delays = 0
  fc.assert(fc.property(fc.array(op, { minLength: 20, maxLength: 120, size: 'max' }), (ops: Op[]) => {
    const guard = new LoginGuard(limits)
    const model = new Model(limits, backlogMs)
    const checks = new Map<number, number[]>()
    let now = 1_000_000
    for (const { address, nickname, outcome, advanceMs } of ops) {
      now += advanceMs
      // No failure on record from this address in any window: it cannot be refused.
      const clean = model.count(`a${address}`, now) === 0 && model.count(`p${address}/${nickname}`, now) === 0
      const expected = model.expect(address, nickname, now)
      const verdict = guard.begin(`nick${nickname}`, `10.0.0.${address}`, now)
      if ('retryAfter' in verdict) {
        refusals++
        if (clean || !('retryAfter' in expected) || verdict.retryAfter !== expected.retryAfter) return false
        continue
      }
      if (!('delayMs' in expected) || verdict.delayMs !== expected.delayMs) return false
      if (verdict.delayMs > 0) delays++
      const keys = [`p${address}/${nickname}`, `a${address}`, `n${nickname}`]
      // The guard counts a failure at once and takes it back; the model counts only what stays.
      if (outcome === 'right') {
        guard.succeeded(verdict.attempt)
        model.forget(keys[0])
      } else if (outcome === 'unchecked') {
        guard.abandoned(verdict.attempt)
      } else {
        for (const key of keys) model.fail(key, now)
        const at = now + verdict.delayMs
        const times = [...(checks.get(nickname) ?? []), at]
        checks.set(nickname, times)
        if (times.filter((time) => time > at - limits.windowMs && time <= at).length > bound) return false
      }
    }
    return true
  }), { numRuns: 2000, seed: 6 })
  t.ok(refusals > 2000 && delays > 2000, `the runs reached the limits (${refusals} refusals, ${delays} delays)`)
})
