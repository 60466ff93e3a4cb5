import type pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import type { Notifications } from '../../plugins/notifications'
import { AUTH_CHANNEL, tokenRevoked, userTokensRevoked } from '../../lib/auth-cache'
import { liveTokens } from '../../lib/queries/tokens'
import type { EventStream } from '../../lib/stream/stream'
import type { SocketView } from './view'

const RECHECK_RETRY_MS = [200, 1000, 2000, 5000]

// A socket's view, once it has one (after a ping_user): a revocation takes back the view its token gave.
export interface Viewing { readonly viewing: SocketView | null }

// A revoked token, or all of a user's, takes back the view of private rooms it gave sockets here.
// Announcements sent while the LISTEN connection is down are lost: from the loss until every view
// has been checked against the tokens table after the reconnect, the stream delivers nothing.
// Returns the unsubscribe.
export function watchRevocations (connections: Iterable<Viewing>, stream: EventStream, pool: pg.Pool, notifications: Notifications,
  log: FastifyBaseLogger): () => void {
  // Bumped on every loss: a check started before the latest loss must not resume delivery.
  let losses = 0
  let stopped = false
  const recheck = (loss: number, attempt: number): void => {
    const checked: Array<{ view: SocketView, token: string }> = []
    for (const { viewing: view } of connections) if (view !== null && view.token !== null) checked.push({ view, token: view.token })
    const done = checked.length === 0
      ? Promise.resolve()
      : liveTokens(pool, checked.map((c) => c.token)).then((live) => {
        // A view given since by another token was checked when given.
        for (const { view, token } of checked) if (view.token === token && !live.has(token)) view.revoke()
      })
    done.then(() => {
      if (loss === losses && !stopped) stream.resume()
    }, (err: Error) => {
      if (loss !== losses || stopped) return
      if (attempt < RECHECK_RETRY_MS.length) {
        log.warn({ err }, 'push: checking socket views after a LISTEN outage failed; retrying')
        setTimeout(() => recheck(loss, attempt + 1), RECHECK_RETRY_MS[attempt]).unref()
        return
      }
      // Unknown whether any token still holds: every socket falls back to the public view (its next ping_user restores it).
      log.error({ err }, 'push: checking socket views after a LISTEN outage failed; every socket back to the public view')
      for (const { viewing } of connections) viewing?.revoke()
      stream.resume()
    })
  }
  const unsubscribe = notifications.subscribe(AUTH_CHANNEL, {
    onNotification: (announcement) => {
      // Presence and user-change announcements share the channel and never revoke a view.
      if (!announcement.startsWith('token:') && !announcement.startsWith('user:')) return
      for (const { viewing: view } of connections) {
        if (view === null) continue
        const revoked = (view.token !== null && announcement === tokenRevoked(view.token)) ||
          (view.viewer !== null && announcement === userTokensRevoked(view.viewer))
        if (revoked) view.revoke()
      }
    },
    onError: () => {
      losses++
      stream.hold()
    },
    onConnect: () => { recheck(losses, 0) },
  })
  return () => {
    stopped = true
    unsubscribe()
  }
}
