import { randomUUID } from 'node:crypto'
import type { PushContext } from './context'

// Ties a socket to its user for presence: online while it (or another of theirs) is open.
export class UserTie {
  userId: number | null = null
  private connectionId: string | null = null
  // The tie of userId's connection: a ping_user is acknowledged only once it holds.
  private tied: Promise<void> = Promise.resolve()

  constructor (private readonly ctx: Pick<PushContext, 'presence' | 'log' | 'closing'>) {}

  // Resolves once the socket is tied to `userId` (at once when it already is); a ping_user sent
  // while the first one's tie runs waits for it, and fails with it.
  tie (userId: number): Promise<void> {
    if (this.userId !== userId) {
      if (this.userId !== null && this.connectionId !== null) this.untie()
      const connectionId = randomUUID()
      this.userId = userId
      this.connectionId = connectionId
      this.tied = this.ctx.presence.tie(connectionId, userId).catch((err: Error) => {
        // Untied again, with no offline flip (its own flip rolled back): the next ping_user ties afresh.
        if (this.connectionId === connectionId) this.untie(false)
        throw err
      })
    }
    return this.tied
  }

  // `goOffline`: false when the tie never committed, so nothing of it is to be undone. On shutdown
  // the instance leaves presence to its own cleanup.
  untie (goOffline = true): void {
    const userId = this.userId
    const connectionId = this.connectionId
    this.userId = null
    this.connectionId = null
    if (userId === null || connectionId === null || this.ctx.closing) return
    this.ctx.presence.untie(connectionId, userId, goOffline).catch((err: Error) => this.ctx.log.error({ err }, 'push: presence update on close failed'))
  }
}
