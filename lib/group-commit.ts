// Group commit: the items queued while a write is in flight go together in the next write (one
// statement or transaction, so one commit for them all). Each caller's promise settles once the
// write that carried its item ended. A failed batch is retried item by item, in order, so a bad
// item fails alone, unless `retryAlone` says the failure may have left the batch committed.
export class GroupCommit<T> {
  private readonly waiting: Array<{ item: T, done: (err?: Error) => void }> = []
  private flushing = false

  constructor (private readonly write: (items: T[]) => Promise<void>, private readonly maxBatch: number,
    private readonly retryAlone: (err: unknown) => boolean = () => true) {}

  add (item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, done: (err) => (err === undefined ? resolve() : reject(err)) })
      if (!this.flushing) void this.flush()
    })
  }

  private async flush (): Promise<void> {
    this.flushing = true
    // Let the items queued in this tick join the first batch.
    await new Promise((resolve) => setImmediate(resolve))
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch)
      try {
        await this.write(batch.map((entry) => entry.item))
        for (const entry of batch) entry.done()
      } catch (err) {
        if (batch.length === 1 || !this.retryAlone(err)) for (const entry of batch) entry.done(err as Error)
        else for (const entry of batch) await this.write([entry.item]).then(() => entry.done(), (e: Error) => entry.done(e))
      }
    }
    this.flushing = false
  }
}
