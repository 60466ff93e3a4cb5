import type pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import type { AuthUser } from '../../plugins/auth'
import type { MessagePosting } from './posting'
import type { InstancePresence } from './presence'
import type { PushConnection } from './connection'
import type { EventStream } from '../../lib/stream/stream'
import type { Typing } from './typing'

// A token that holds: whose it is, its id, and when it stops holding (ms since the epoch).
export interface ValidToken { user: AuthUser, tokenId: string, expiresAt: number }

// What every connection on one instance shares.
export interface PushContext {
  stream: EventStream
  presence: InstancePresence
  typing: Typing
  pool: pg.Pool
  log: FastifyBaseLogger
  userForToken: (token: string) => Promise<ValidToken | null>
  markSeen: (user: AuthUser) => Promise<void>
  posting: MessagePosting
  maxBufferBytes: number
  framesPerSecond: number
  heartbeatMs: number
  connections: Set<PushConnection>
  // Set on shutdown: closing sockets then leave presence to the instance's own cleanup.
  closing: boolean
}
