import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import {
  beatPushInstance, deletePushConnection, deletePushInstance, forgetDeadPushInstances, markUserOnline, markUsersOffline, pushConnectionsOf,
} from '../../lib/queries/presence'

export interface PresenceSettings {
  // A push instance that has not heartbeat for this long no longer keeps its users online.
  offlineAfterSeconds: number
}

// This instance's part in presence: a push_instances row kept fresh, and a push_connections row
// per socket tied to a user, so the sweeper (on any process) never marks a connected user offline.
export class InstancePresence {
  readonly instanceId = randomUUID()
  // Connections tied to each user on this instance, so closing one of several costs no query.
  private readonly tied = new Map<number, Set<string>>()
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  // When the last beat that got through was sent, and the beat running (a slow one is not overlapped).
  private lastBeatSentAt = 0
  private beating: Promise<void> | null = null
  // Owed to the database: all our rows (we were taken for dead), or the removal of closed
  // connections' rows (an untie failed); and the restore running.
  private owed = false
  private closedOwed = false
  private restoring = false
  // Per-user chains keep one user's tie/untie writes in order on this instance.
  private readonly chains = new Map<number, Promise<unknown>>()

  constructor (
    private readonly pool: pg.Pool,
    private readonly settings: PresenceSettings,
    private readonly log: FastifyBaseLogger,
  ) {}

  // Well under the offline timeout, so a live instance never looks dead between two beats.
  get heartbeatMs (): number {
    return Math.min(10000, Math.max(200, this.settings.offlineAfterSeconds * 1000 / 4))
  }

  async start (): Promise<void> {
    await this.beat()
    this.timer = setInterval(() => {
      if (this.beating !== null) return
      this.beating = this.beat()
        .catch((err: Error) => this.log.warn({ err }, 'push: instance heartbeat failed'))
        .finally(() => { this.beating = null })
    }, this.heartbeatMs)
    this.timer.unref()
  }

  private async beat (): Promise<void> {
    const sentAt = Date.now()
    const inserted = await beatPushInstance(this.pool, this.instanceId)
    // Taken for dead meanwhile: our row was removed by another instance, or our beats stopped long
    // enough for a sweeper to skip our connections. Put them back, and their users online again.
    if (inserted || sentAt - this.lastBeatSentAt >= 2 * this.heartbeatMs) this.owed = true
    this.lastBeatSentAt = sentAt
    if (this.owed || this.closedOwed) this.restore()
    // Instances gone for much longer than the offline timeout are dead: forget them and their connections.
    await forgetDeadPushInstances(this.pool, Math.max(600, this.settings.offlineAfterSeconds * 10))
  }

  private serial<T> (userId: number, work: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(userId) ?? Promise.resolve()
    const next = previous.then(work, work)
    const settled = next.catch(() => {})
    this.chains.set(userId, settled)
    settled.then(() => { if (this.chains.get(userId) === settled) this.chains.delete(userId) })
    return next
  }

  // Ties a connection to a user: its row and the online flip commit together.
  tie (connectionId: string, userId: number): Promise<void> {
    return this.serial(userId, async () => {
      let connections = this.tied.get(userId)
      if (connections === undefined) this.tied.set(userId, connections = new Set())
      connections.add(connectionId)
      await markUserOnline(this.pool, userId, { connectionId, instanceId: this.instanceId })
    })
  }

  // Makes our rows match our sockets: open ones written back, closed ones removed (their users going
  // offline). Beside the beats, which must go on meanwhile; what fails is owed again, for the next beat.
  private restore (): void {
    if (this.restoring) return
    this.restoring = true
    const rewrite = this.owed
    this.owed = false
    this.closedOwed = false
    const all = async (): Promise<void> => {
      if (rewrite) {
        for (const [userId, connections] of [...this.tied]) {
          for (const connectionId of [...connections]) await this.reassert(userId, connectionId)
        }
      }
      await this.removeClosed()
    }
    all().catch((err: Error) => {
      if (rewrite) this.owed = true
      this.closedOwed = true
      this.log.warn({ err }, 'push: restoring connection rows failed; retrying at the next beat')
    }).finally(() => { this.restoring = false })
  }

  // In the user's order, so a connection closed meanwhile is not written back.
  private reassert (userId: number, connectionId: string): Promise<void> {
    return this.serial(userId, async () => {
      if (this.stopped || this.tied.get(userId)?.has(connectionId) !== true) return
      await markUserOnline(this.pool, userId, { connectionId, instanceId: this.instanceId })
    })
  }

  // Rows of connections closed while the database was out of reach (their untie failed). Ids are never
  // reused, so a row seen here whose id is no longer tied belongs to a closed connection.
  private async removeClosed (): Promise<void> {
    for (const row of await pushConnectionsOf(this.pool, this.instanceId)) {
      if (this.tied.get(row.userId)?.has(row.id) !== true) await this.untie(row.id, row.userId)
    }
  }

  // A closed connection: when it was the user's last anywhere, the user goes offline (and that is pushed).
  untie (connectionId: string, userId: number, goOffline = true): Promise<void> {
    return this.serial(userId, async () => {
      const connections = this.tied.get(userId)
      connections?.delete(connectionId)
      if (connections?.size === 0) this.tied.delete(userId)
      if (this.stopped) return
      try {
        await deletePushConnection(this.pool, connectionId)
        if (!goOffline || (connections !== undefined && connections.size > 0)) return
        await markUsersOffline(this.pool, { userIds: [userId], liveWithinSeconds: this.settings.offlineAfterSeconds })
      } catch (err) {
        // A row left behind would hold the user online for good: the next beat removes it.
        this.closedOwed = true
        throw err
      }
    })
  }

  // Shutdown: the rows go (with their connections); users are left to reconnect elsewhere, and the
  // sweeper marks offline those who do not, as it would after a crash.
  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    // A beat still running would write our row back after the delete below.
    await Promise.allSettled([this.beating, ...this.chains.values()])
    await deletePushInstance(this.pool, this.instanceId)
  }
}
