import type { Prisma } from '../plugins/database'
import { publishUser } from './events'
import { announce, userWentOffline } from './auth-cache'
import { USER_COLUMNS, type UserRow } from './models'

// A push socket that holds its user online: the row markUsersOffline looks for.
export interface HeldBy { connectionId: string, instanceId: string }

// Flips a user online and publishes the change; a no-op when already online. With `heldBy`,
// the connection's row is written in the same transaction. Both flips take the users' row locks
// first, so a connection recorded here is either seen by markUsersOffline or flips the user back.
export async function markUserOnline (prisma: Prisma, userId: number, heldBy?: HeldBy): Promise<UserRow | null> {
  return prisma.$transaction(async (tx) => {
    await tx.$queryRawUnsafe('SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE', userId)
    if (heldBy !== undefined) {
      await tx.$executeRawUnsafe('INSERT INTO push_connections (id, instance_id, user_id) VALUES ($1::uuid, $2::uuid, $3) ON CONFLICT (id) DO NOTHING',
        heldBy.connectionId, heldBy.instanceId, userId)
    }
    const rows = await tx.$queryRawUnsafe<UserRow[]>(
      `UPDATE users SET online = true, last_seen_at = now(), updated_at = now()
       WHERE id = $1 AND NOT online RETURNING ${USER_COLUMNS}`, userId)
    if (rows.length === 0) return null
    await publishUser(tx, rows[0])
    return rows[0]
  })
}

export interface OfflineFilter {
  // Only these users (a sign-out, a closed socket); otherwise everyone unseen.
  userIds?: number[]
  // Only users whose last request is older than this.
  unseenForSeconds?: number
  // A push instance that heartbeat within this many seconds still holds its users online.
  liveWithinSeconds: number
}

// Marks offline each matching user who has no live push connection, one event per flip.
export async function markUsersOffline (prisma: Prisma, filter: OfflineFilter): Promise<UserRow[]> {
  return prisma.$transaction(async (tx) => {
    const locked = (await tx.$queryRawUnsafe<Array<{ id: number }>>(
      `SELECT id FROM users WHERE online AND ($1::int[] IS NULL OR id = ANY($1::int[]))
         AND ($2::int IS NULL OR last_seen_at < now() - make_interval(secs => $2::int))
       ORDER BY id FOR NO KEY UPDATE`,
      filter.userIds ?? null, filter.unseenForSeconds ?? null)).map((u) => u.id)
    if (locked.length === 0) return []
    // A new statement, so a new snapshot: it sees every connection committed before the locks.
    const rows = await tx.$queryRawUnsafe<UserRow[]>(
      `UPDATE users u SET online = false, updated_at = now()
       WHERE u.online AND u.id = ANY($4::int[])
         AND ($1::int[] IS NULL OR u.id = ANY($1::int[]))
         AND ($2::int IS NULL OR u.last_seen_at < now() - make_interval(secs => $2::int))
         AND NOT EXISTS (
           SELECT 1 FROM push_connections c JOIN push_instances i ON i.id = c.instance_id
           WHERE c.user_id = u.id AND i.heartbeat_at > now() - make_interval(secs => $3::int))
       RETURNING ${USER_COLUMNS.replace(/(^|, )/g, '$1u.')}`,
      filter.userIds ?? null, filter.unseenForSeconds ?? null, filter.liveWithinSeconds, locked)
    rows.sort((a, b) => a.id - b.id)
    for (const row of rows) {
      await publishUser(tx, row)
      // Every process must write presence again on this user's next request.
      await announce(tx, userWentOffline(row.id))
    }
    return rows
  })
}
