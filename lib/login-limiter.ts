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

  fail (key: string, now = Date.now()): void {
    const entry = this.failures.get(key)
    if (entry === undefined || entry.resetAt <= now) {
      if (this.failures.size >= this.maxKeys) this.prune(now)
      this.failures.set(key, { count: 1, resetAt: now + this.windowMs })
    } else {
      entry.count++
    }
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
