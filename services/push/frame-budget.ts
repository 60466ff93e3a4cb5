// What to do with a client frame: handle it, or drop it (warning the client on the first one over,
// closing it once a whole second's worth more have been dropped).
export type Verdict = 'take' | 'warn' | 'drop' | 'close'

// A token bucket of PUSH_FRAMES_PER_SECOND per socket, refilled continuously.
export class FrameBudget {
  private tokens: number
  // Monotonic, so a wall-clock step back cannot drain every bucket.
  private refilledAt: number
  private dropped = 0

  constructor (readonly rate: number, now = performance.now()) {
    this.tokens = rate
    this.refilledAt = now
  }

  take (now = performance.now()): Verdict {
    const rate = this.rate
    this.tokens = Math.min(rate, this.tokens + (now - this.refilledAt) * rate / 1000)
    this.refilledAt = now
    if (this.tokens >= 1) {
      this.tokens -= 1
      this.dropped = 0
      return 'take'
    }
    this.dropped++
    if (this.dropped === 1) return 'warn'
    return this.dropped > rate ? 'close' : 'drop'
  }
}
