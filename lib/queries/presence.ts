import { inTransaction, type Db } from '../db'
import { publishUser } from '../events'
import { announce, userWentOffline } from '../auth-cache'
import { USER_COLUMNS, type UserRow } from '../models'

// Presence: users' online flags, and the push_instances / push_connections rows that hold users online.

// A push socket that holds its user online: the row markUsersOffline looks for.
export interface HeldBy { connectionId: string, instanceId: string }

// Flips a user online and publishes the change; a no-op when already online. With `heldBy`,
// the connection's row is written in the same transaction. Both flips take the users' row locks
// first, so a connection recorded here is either seen by markUsersOffline or flips the user back.
export async function markUserOnline (db: Db, userId: number, heldBy?: HeldBy): Promise<UserRow | null> {
  return inTransaction(db, async (client) => {
    await client.query({ name: 'presence-lock-user', text: 'SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE', values: [userId] })
    if (heldBy !== undefined) {
      await client.query({
        name: 'presence-connection-insert',
        text: 'INSERT INTO push_connections (id, instance_id, user_id) VALUES ($1::uuid, $2::uuid, $3) ON CONFLICT (id) DO NOTHING',
        values: [heldBy.connectionId, heldBy.instanceId, userId],
      })
    }
    const { rows } = await client.query<UserRow>({
      name: 'presence-online',
      text: `UPDATE users SET online = true, last_seen_at = now(), updated_at = now()
             WHERE id = $1 AND NOT online RETURNING ${USER_COLUMNS}`,
      values: [userId],
    })
    if (rows.length === 0) return null
    await publishUser(client, rows[0])
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

const LOCK_OFFLINE_CANDIDATES = {
  name: 'presence-lock-candidates',
  text: `SELECT id FROM users WHERE online AND ($1::int[] IS NULL OR id = ANY($1::int[]))
           AND ($2::int IS NULL OR last_seen_at < now() - make_interval(secs => $2::int))
         ORDER BY id FOR NO KEY UPDATE`,
}
const MARK_OFFLINE = {
  name: 'presence-offline',
  text: `UPDATE users u SET online = false, updated_at = now()
         WHERE u.online AND u.id = ANY($4::int[])
           AND ($1::int[] IS NULL OR u.id = ANY($1::int[]))
           AND ($2::int IS NULL OR u.last_seen_at < now() - make_interval(secs => $2::int))
           AND NOT EXISTS (
             SELECT 1 FROM push_connections c JOIN push_instances i ON i.id = c.instance_id
             WHERE c.user_id = u.id AND i.heartbeat_at > now() - make_interval(secs => $3::int))
         RETURNING ${USER_COLUMNS.replace(/(^|, )/g, '$1u.')}`,
}

// Marks offline each matching user who has no live push connection, one event per flip.
export async function markUsersOffline (db: Db, filter: OfflineFilter): Promise<UserRow[]> {
  const userIds = filter.userIds ?? null
  const unseen = filter.unseenForSeconds ?? null
  return inTransaction(db, async (client) => {
    const locked = (await client.query<{ id: number }>({ ...LOCK_OFFLINE_CANDIDATES, values: [userIds, unseen] })).rows.map((u) => u.id)
    if (locked.length === 0) return []
    // A new statement, so a new snapshot: it sees every connection committed before the locks.
    const { rows } = await client.query<UserRow>({ ...MARK_OFFLINE, values: [userIds, unseen, filter.liveWithinSeconds, locked] })
    rows.sort((a, b) => a.id - b.id)
    for (const row of rows) {
      await publishUser(client, row)
      // Every process must write presence again on this user's next request.
      await announce(client, userWentOffline(row.id))
    }
    return rows
  })
}

// A push instance's heartbeat; true when its row was new (it had been taken for dead and removed).
export async function beatPushInstance (db: Db, instanceId: string): Promise<boolean> {
  const { rows } = await db.query<{ inserted: boolean }>({
    name: 'push-instance-beat',
    text: `INSERT INTO push_instances (id) VALUES ($1)
           ON CONFLICT (id) DO UPDATE SET heartbeat_at = now() RETURNING (xmax = 0) AS inserted`,
    values: [instanceId],
  })
  return rows[0].inserted
}

// Push instances silent for `seconds` are dead: they go, and their connection rows with them.
export async function forgetDeadPushInstances (db: Db, seconds: number): Promise<void> {
  await db.query({
    name: 'push-instance-forget-dead',
    text: 'DELETE FROM push_instances WHERE heartbeat_at < now() - make_interval(secs => $1::int)',
    values: [seconds],
  })
}

export async function deletePushInstance (db: Db, instanceId: string): Promise<void> {
  await db.query('DELETE FROM push_instances WHERE id = $1', [instanceId])
}

export async function pushConnectionsOf (db: Db, instanceId: string): Promise<Array<{ id: string, userId: number }>> {
  const { rows } = await db.query<{ id: string, userId: number }>({
    name: 'presence-push-connections',
    text: 'SELECT id::text AS id, user_id AS "userId" FROM push_connections WHERE instance_id = $1',
    values: [instanceId],
  })
  return rows
}

export async function deletePushConnection (db: Db, connectionId: string): Promise<void> {
  await db.query({ name: 'push-connection-delete', text: 'DELETE FROM push_connections WHERE id = $1', values: [connectionId] })
}
