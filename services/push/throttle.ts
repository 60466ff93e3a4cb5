// Per-key memories that last an interval; old entries are swept whenever the map has doubled.
class Recent<T> {
  private readonly last = new Map<string, { at: number, value: T }>()
  private sweepAt = 1024

  constructor (private readonly intervalMs: number) {}

  // The value remembered for `key` within the interval, or undefined.
  get (key: string, now = performance.now()): T | undefined {
    const entry = this.last.get(key)
    return entry !== undefined && now - entry.at < this.intervalMs ? entry.value : undefined
  }

  set (key: string, value: T, now = performance.now()): void {
    this.last.set(key, { at: now, value })
    if (this.last.size >= this.sweepAt) {
      for (const [old, entry] of this.last) if (now - entry.at >= this.intervalMs) this.last.delete(old)
      this.sweepAt = Math.max(1024, this.last.size * 2)
    }
  }

  // Forgets `key` if it still holds `value` (a failed answer is not remembered).
  forget (key: string, value: T): void {
    if (this.last.get(key)?.value === value) this.last.delete(key)
  }
}

// At most one per key every interval.
export class Throttle {
  private readonly recent: Recent<true>

  constructor (intervalMs: number) { this.recent = new Recent(intervalMs) }

  allow (key: string, now = performance.now()): boolean {
    if (this.recent.get(key, now) !== undefined) return false
    this.recent.set(key, true, now)
    return true
  }
}

// One piece of work per key every interval: asked again within it, a key gets the first answer
// (shared while it is still running), so a flood costs one run. A failed run is not remembered.
export class OncePerInterval<T> {
  private readonly recent: Recent<Promise<T>>

  constructor (intervalMs: number) { this.recent = new Recent(intervalMs) }

  run (key: string, work: () => Promise<T>, now = performance.now()): Promise<T> {
    const known = this.recent.get(key, now)
    if (known !== undefined) return known
    const answer = work()
    this.recent.set(key, answer, now)
    answer.catch(() => this.recent.forget(key, answer))
    return answer
  }
}
