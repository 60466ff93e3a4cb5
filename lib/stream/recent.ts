import { frameBytes, type EventFrame } from './frames'

// Put in place of a dropped frame until the array is compacted, so its bytes are freed at once.
const DROPPED: EventFrame = { seq: 0, data: Buffer.alloc(0), readers: null }

// The newest frames this instance broadcast, so a client back from a short break (or moved here by
// another instance's shutdown) is replayed from memory: a reconnect storm then costs no queries.
// Every event after `from` up to the newest broadcast is held, in seq order.
export class RecentFrames {
  private frames: EventFrame[] = []
  // Frames before this index are dropped (compacted now and then, not shifted one by one).
  private head = 0
  private bytes = 0
  // Nothing is held until the stream has a starting point.
  private from = Number.POSITIVE_INFINITY

  constructor (private readonly maxFrames: number, private readonly maxBytes: number) {}

  // The stream's starting point: nothing at or below it is held.
  startAt (seq: number): void {
    this.frames = []
    this.head = 0
    this.bytes = 0
    this.from = seq
  }

  add (frames: EventFrame[]): void {
    for (const frame of frames) {
      this.frames.push(frame)
      this.bytes += frameBytes(frame)
    }
    while (this.head < this.frames.length && (this.frames.length - this.head > this.maxFrames || this.bytes > this.maxBytes)) {
      const dropped = this.frames[this.head]
      this.frames[this.head++] = DROPPED
      this.bytes -= frameBytes(dropped)
      // Never backwards: frames issued before the starting point may still arrive (committed late).
      this.from = Math.max(this.from, dropped.seq)
    }
    if (this.head > 0 && this.head >= this.frames.length / 2) {
      this.frames = this.frames.slice(this.head)
      this.head = 0
    }
  }

  // The frames after `since`, or null when some of them are no longer (or never were) held.
  after (since: number): EventFrame[] | null {
    const newest = this.frames.length > this.head ? this.frames[this.frames.length - 1].seq : this.from
    if (since < this.from || since > newest) return null
    let low = this.head
    let high = this.frames.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (this.frames[mid].seq <= since) low = mid + 1
      else high = mid
    }
    return this.frames.slice(low)
  }
}
