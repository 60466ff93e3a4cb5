import { addressKey } from './client-address'

interface Window { count: number, resetAt: number }

// Counts failures per key in fixed windows that start with a key's first failure; in-process,
// so each api instance limits on its own.
export class LoginLimiter {
  private readonly windows = new Map<string, Window>()

  constructor (private readonly windowMs: number, private readonly maxKeys = 100_000) {}

  // Seconds until the key may try again, or 0 when it is under its limit.
  retryAfter (key: string, limit: number, now = Date.now()): number {
    const entry = this.windows.get(key)
    if (entry === undefined || entry.resetAt <= now || entry.count < limit) return 0
    return Math.ceil((entry.resetAt - now) / 1000)
  }

  // Failures of the key in its current window.
  count (key: string, now = Date.now()): number {
    const entry = this.windows.get(key)
    return entry === undefined || entry.resetAt <= now ? 0 : entry.count
  }

  fail (key: string, now = Date.now()): void {
    const entry = this.windows.get(key)
    if (entry !== undefined && entry.resetAt > now) {
      entry.count++
      return
    }
    // Deleted first so that the map's order stays the order in which windows started.
    this.windows.delete(key)
    if (this.windows.size >= this.maxKeys) this.prune(now)
    this.windows.set(key, { count: 1, resetAt: now + this.windowMs })
  }

  // Takes back one failure counted ahead of time.
  undo (key: string): void {
    const entry = this.windows.get(key)
    if (entry !== undefined && --entry.count <= 0) this.windows.delete(key)
  }

  forget (key: string): void { this.windows.delete(key) }

  // Under a flood of distinct keys, drops the ended windows, then the fewest failures (oldest first),
  // down to 90%: the keys under attack are the ones kept.
  private prune (now: number): void {
    for (const [key, entry] of this.windows) if (entry.resetAt <= now) this.windows.delete(key)
    if (this.windows.size < this.maxKeys) return
    const byCount = [...this.windows].sort(([, a], [, b]) => a.count - b.count || a.resetAt - b.resetAt)
    for (const [key] of byCount.slice(0, this.windows.size - Math.floor(this.maxKeys * 0.9))) this.windows.delete(key)
  }
}

export interface LoginLimits {
  // Failures per (nickname, address), and per address, before that address is refused for the window.
  perPair: number
  perAddress: number
  windowMs: number
  // Past perPair failures on a nickname (from any addresses) in its window, its checks are spaced this far apart.
  nicknameDelayMs: number
}

// Waiting attempts past this many delays, from an address that has already failed, are refused instead.
const BACKLOG_DELAYS = 10

export interface LoginAttempt { readonly keys: { pair: string, address: string, nickname: string } }
export type LoginVerdict = { retryAfter: number } | { delayMs: number, attempt: LoginAttempt }

// Refusing per nickname alone would let anyone lock its owner out; so a nickname under attack has its
// checks queued one delay apart, whatever the number of guessing addresses, while refusals fall on them.
export class LoginGuard {
  private readonly pairs: LoginLimiter
  private readonly addresses: LoginLimiter
  // One map per kind: a flood of new addresses or nicknames cannot push out the counts of another kind.
  private readonly nicknames: LoginLimiter
  // When the last queued check on each nickname under attack may start.
  private readonly lastSlot = new Map<string, number>()

  constructor (private readonly limits: LoginLimits, maxKeys = 100_000) {
    this.pairs = new LoginLimiter(limits.windowMs, maxKeys)
    this.addresses = new LoginLimiter(limits.windowMs, maxKeys)
    this.nicknames = new LoginLimiter(limits.windowMs, maxKeys)
  }

  // An attempt counts as a failure at once, so parallel guesses cannot all slip under a limit;
  // `succeeded` takes it back.
  begin (nickname: string, address: string, now = Date.now()): LoginVerdict {
    const client = addressKey(address)
    const keys = { pair: `${client}\n${nickname}`, address: client, nickname }
    const retryAfter = Math.max(
      this.pairs.retryAfter(keys.pair, this.limits.perPair, now),
      this.addresses.retryAfter(keys.address, this.limits.perAddress, now))
    if (retryAfter > 0) return { retryAfter }
    let delayMs = 0
    if (this.nicknames.count(nickname, now) >= this.limits.perPair) {
      const slot = Math.max(now, this.lastSlot.get(nickname) ?? 0) + this.limits.nicknameDelayMs
      const backlogMs = BACKLOG_DELAYS * this.limits.nicknameDelayMs
      // A clean address always gets a place, so the owner is never refused; a guessing one waits its turn outside.
      if (slot - now > backlogMs && this.addresses.count(keys.address, now) > 0) return { retryAfter: Math.ceil((slot - now - backlogMs) / 1000) }
      this.queue(nickname, slot, now)
      delayMs = slot - now
    }
    this.pairs.fail(keys.pair, now)
    this.addresses.fail(keys.address, now)
    this.nicknames.fail(keys.nickname, now)
    return { delayMs, attempt: { keys } }
  }

  succeeded ({ keys }: LoginAttempt): void {
    this.pairs.forget(keys.pair)
    this.addresses.undo(keys.address)
    this.nicknames.undo(keys.nickname)
  }

  // The attempt could not be checked: it is not a failure.
  abandoned ({ keys }: LoginAttempt): void {
    this.pairs.undo(keys.pair)
    this.addresses.undo(keys.address)
    this.nicknames.undo(keys.nickname)
  }

  private queue (nickname: string, slot: number, now: number): void {
    this.lastSlot.delete(nickname)
    // Only nicknames with a check still to come are kept.
    if (this.lastSlot.size >= 10_000) for (const [key, at] of this.lastSlot) if (at <= now) this.lastSlot.delete(key)
    this.lastSlot.set(nickname, slot)
  }
}
