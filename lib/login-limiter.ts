// Counts failed logins per key in fixed windows; in-process, so each api instance limits on its own.
export class LoginLimiter {
  private readonly failures = new Map<string, { count: number, resetAt: number }>()

  constructor (private readonly windowMs: number, private readonly maxKeys = 100_000) {}

  // Seconds until the key may try again, or 0 when it is under its limit.
  retryAfter (key: string, limit: number, now = Date.now()): number {
    const entry = this.failures.get(key)
    if (entry === undefined || entry.resetAt <= now || entry.count < limit) return 0
    return Math.ceil((entry.resetAt - now) / 1000)
  }

  // Failures of the key in its current window.
  count (key: string, now = Date.now()): number {
    const entry = this.failures.get(key)
    return entry === undefined || entry.resetAt <= now ? 0 : entry.count
  }

  fail (key: string, now = Date.now()): void {
    const entry = this.failures.get(key)
    if (entry === undefined || entry.resetAt <= now) {
      if (this.failures.size >= this.maxKeys) this.prune(now)
      this.failures.set(key, { count: 1, resetAt: now + this.windowMs })
    } else {
      entry.count++
    }
  }

  // Takes back one failure counted ahead of time.
  undo (key: string): void {
    const entry = this.failures.get(key)
    if (entry !== undefined && --entry.count <= 0) this.failures.delete(key)
  }

  forget (key: string): void { this.failures.delete(key) }

  private prune (now: number): void {
    for (const [key, entry] of this.failures) if (entry.resetAt <= now) this.failures.delete(key)
    // Under a flood of distinct keys, drop the oldest rather than grow without bound.
    for (const key of this.failures.keys()) {
      if (this.failures.size < this.maxKeys) break
      this.failures.delete(key)
    }
  }
}

export interface LoginLimits {
  // Failures per (nickname, address), and per address, before that address is refused for the window.
  perPair: number
  perAddress: number
  windowMs: number
  // Each attempt on a nickname with perPair failures (from any addresses) in its window waits this long.
  nicknameDelayMs: number
}

export interface LoginAttempt { readonly keys: { pair: string, address: string, nickname: string } }
export type LoginVerdict = { retryAfter: number } | { delayMs: number, attempt: LoginAttempt }

// Refusing per nickname alone would let anyone lock its owner out; so a nickname under attack only
// slows every attempt on it, while refusals fall on the guessing address.
export class LoginGuard {
  private readonly limiter: LoginLimiter

  constructor (private readonly limits: LoginLimits) {
    this.limiter = new LoginLimiter(limits.windowMs)
  }

  // An attempt counts as a failure at once, so parallel guesses cannot all slip under a limit;
  // `succeeded` takes it back.
  begin (nickname: string, address: string, now = Date.now()): LoginVerdict {
    const keys = { pair: `p:${address}\n${nickname}`, address: `a:${address}`, nickname: `n:${nickname}` }
    const retryAfter = Math.max(
      this.limiter.retryAfter(keys.pair, this.limits.perPair, now),
      this.limiter.retryAfter(keys.address, this.limits.perAddress, now))
    if (retryAfter > 0) return { retryAfter }
    const delayMs = this.limiter.count(keys.nickname, now) >= this.limits.perPair ? this.limits.nicknameDelayMs : 0
    for (const key of Object.values(keys)) this.limiter.fail(key, now)
    return { delayMs, attempt: { keys } }
  }

  succeeded ({ keys }: LoginAttempt): void {
    this.limiter.forget(keys.pair)
    this.limiter.undo(keys.address)
    this.limiter.undo(keys.nickname)
  }

  // The attempt could not be checked: it is not a failure.
  abandoned ({ keys }: LoginAttempt): void {
    for (const key of Object.values(keys)) this.limiter.undo(key)
  }
}
