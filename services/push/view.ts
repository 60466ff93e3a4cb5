import type { EventStream, Subscriber } from '../../lib/stream/stream'

// setTimeout's longest delay (about 24.8 days); a later expiry is waited for in steps.
const MAX_TIMER_MS = 2 ** 31 - 1

// Which rooms a socket sees: public ones, plus its user's private and direct rooms while the token
// that gave it that view holds. A revocation, a failed ping_user or the token's expiry ends the view.
export class SocketView {
  // Whose private and direct rooms this socket sees: the user of its last valid ping_user.
  viewer: number | null = null
  // The token that gave this socket its viewer: revoking it takes the view back.
  token: string | null = null
  // When the token stops holding (ms since the epoch).
  private expiresAt = Number.POSITIVE_INFINITY
  private expiry: NodeJS.Timeout | undefined

  constructor (private readonly subscriber: Subscriber, private readonly stream: EventStream) {}

  // From now on the socket sees `userId`'s rooms, until `expiresAt` (ms since the epoch) at the latest.
  grant (userId: number, token: string, expiresAt: number): void {
    if (this.viewer !== userId) {
      const previous = this.viewer
      this.viewer = userId
      this.stream.reindex(this.subscriber, previous)
    }
    if (this.token === token) return
    this.token = token
    this.endAt(expiresAt)
  }

  // Ends a view whose token has expired, in case its timer has not run yet (a busy event loop):
  // true when it did, so a batch chosen for the old view is filtered again.
  lapse (now = Date.now()): boolean {
    if (this.token === null || now < this.expiresAt) return false
    const had = this.viewer !== null
    this.revoke()
    return had
  }

  // Back to the anonymous view (public rooms): the token that gave the user's view was revoked, failed or expired.
  revoke (): void {
    clearTimeout(this.expiry)
    this.expiry = undefined
    this.token = null
    this.expiresAt = Number.POSITIVE_INFINITY
    if (this.viewer === null) return
    const previous = this.viewer
    this.viewer = null
    this.stream.reindex(this.subscriber, previous)
  }

  // The socket closed: nothing is left to wait for.
  close (): void {
    clearTimeout(this.expiry)
    this.expiry = undefined
  }

  private endAt (expiresAt: number): void {
    clearTimeout(this.expiry)
    this.expiresAt = expiresAt
    const left = expiresAt - Date.now()
    if (left <= 0) {
      this.revoke()
      return
    }
    this.expiry = setTimeout(() => this.endAt(expiresAt), Math.min(left, MAX_TIMER_MS))
    this.expiry.unref()
  }
}
