import type pg from 'pg'
import { inTransaction, type Db } from '../db'
import { USER_COLUMNS, membershipJson, type RoomRole, type UserRow } from '../models'
import { GENERAL_ROOM_ID } from './access'
import { publishEvent } from './events'
import { getRoom, lockRoom } from './rooms'
import { userExists } from './users'

// The memberships table: who is in a room with which role, and each member's read marker.

// The user's membership as it now is: role null once removed. onlyTo: its readers instead of the room's.
export async function publishMembership (client: pg.PoolClient, roomId: number, userId: number, onlyTo?: number[]): Promise<void> {
  const { rows } = await client.query<{ role: RoomRole, lastReadId: number }>({
    name: 'rooms-membership-event',
    text: 'SELECT role, last_read_id AS "lastReadId" FROM memberships WHERE room_id = $1 AND user_id = $2',
    values: [roomId, userId],
  })
  const now = rows[0] ?? { role: null, lastReadId: null }
  await publishEvent(client, 'Membership', membershipJson({ roomId, userId, ...now }), onlyTo)
}

export type MemberChange = 'done' | 'unchanged' | 'no_room' | 'no_user' | 'forbidden' | 'not_member'

// `actorId` adds `userId`, checked against the rule as the row is written: a public room only
// oneself (general: everyone already is), a private room any member, a direct room no one.
// A new member's read marker starts at the room's newest message.
export async function addMember (db: Db, roomId: number, actorId: number, userId: number): Promise<MemberChange> {
  return inTransaction(db, async (client) => {
    const room = await lockRoom(client, roomId)
    const actorRole = room === null ? null : await roleIn(client, roomId, actorId)
    if (room === null || (room.kind !== 'public' && actorRole === null)) return 'no_room'
    if (!await userExists(client, userId)) return 'no_user'
    if (room.kind === 'direct') return 'forbidden'
    if (room.kind === 'public' && actorId !== userId) return 'forbidden'
    if (roomId === GENERAL_ROOM_ID) return 'unchanged'
    const { rowCount } = await client.query({
      name: 'rooms-member-add',
      text: `INSERT INTO memberships (room_id, user_id, last_read_id)
             VALUES ($1, $2, COALESCE((SELECT max(id) FROM messages WHERE room_id = $1), 0)) ON CONFLICT DO NOTHING`,
      values: [roomId, userId],
    })
    if (rowCount === 0) return 'unchanged'
    await publishMembership(client, roomId, userId)
    return 'done'
  })
}

// `actorId` removes `userId`: oneself always (but from general or a direct room), anyone else
// only as the owner. An owner who leaves hands the room to its longest-standing member.
export async function removeMember (db: Db, roomId: number, actorId: number, userId: number): Promise<MemberChange> {
  return inTransaction(db, async (client) => {
    const room = await lockRoom(client, roomId)
    const actorRole = room === null ? null : await roleIn(client, roomId, actorId)
    if (room === null || (room.kind !== 'public' && actorRole === null)) return 'no_room'
    const targetRole = await roleIn(client, roomId, userId)
    if (targetRole === null) return 'not_member'
    if (roomId === GENERAL_ROOM_ID || room.kind === 'direct') return 'forbidden'
    if (actorId !== userId && actorRole !== 'owner') return 'forbidden'
    await client.query({ name: 'rooms-member-remove', text: 'DELETE FROM memberships WHERE room_id = $1 AND user_id = $2', values: [roomId, userId] })
    // The removal frame is the last of the room the removed user gets: published before the hand-over.
    await publishMembership(client, roomId, userId)
    if (targetRole === 'owner') {
      const heir = await client.query<{ userId: number }>({
        name: 'rooms-owner-hand-over',
        text: `UPDATE memberships SET role = 'owner' WHERE room_id = $1 AND user_id =
                 (SELECT user_id FROM memberships WHERE room_id = $1 ORDER BY joined_at, user_id LIMIT 1) RETURNING user_id AS "userId"`,
        values: [roomId],
      })
      if (heir.rows.length > 0) await publishMembership(client, roomId, heir.rows[0].userId)
    }
    return 'done'
  })
}

// A user's role in a room (general: 'member' for every existing user), or null for a non-member.
export async function roleIn (db: Db, roomId: number, userId: number): Promise<RoomRole | null> {
  const { rows } = await db.query<{ role: RoomRole }>({
    name: 'rooms-member-role',
    text: `SELECT role FROM memberships WHERE room_id = $1 AND user_id = $2
           UNION ALL SELECT 'member' FROM users WHERE $1 = ${GENERAL_ROOM_ID} AND id = $2 LIMIT 1`,
    values: [roomId, userId],
  })
  return rows[0]?.role ?? null
}

// The room's members by nickname (general: every user).
export async function listMembers (db: Db, roomId: number): Promise<UserRow[]> {
  const { rows } = await db.query<UserRow>({
    name: 'rooms-room-members',
    text: `SELECT ${USER_COLUMNS} FROM users u
           WHERE $1 = ${GENERAL_ROOM_ID} OR EXISTS (SELECT 1 FROM memberships m WHERE m.room_id = $1 AND m.user_id = u.id)
           ORDER BY nickname`,
    values: [roomId],
  })
  return rows
}

export type MarkRead = 'moved' | 'unchanged' | 'no_room' | 'not_member' | 'other_room'

// Moves `userId`'s read marker in a room forward to `messageId` (never back). general's implicit
// membership gets its row on the first move. The move is pushed to that user's sockets alone.
export async function markRead (db: Db, roomId: number, userId: number, messageId: number): Promise<MarkRead> {
  return inTransaction(db, async (client) => {
    const room = await getRoom(client, userId, roomId)
    if (room === null) return 'no_room'
    if (room.role === null) return 'not_member'
    const inRoom = await client.query({ name: 'rooms-message-in-room', text: 'SELECT 1 FROM messages WHERE id = $1 AND room_id = $2', values: [messageId, roomId] })
    if (inRoom.rowCount === 0) return 'other_room'
    const { rowCount } = await client.query({
      name: 'rooms-read-marker',
      text: `INSERT INTO memberships AS m (room_id, user_id, last_read_id) SELECT $1, $2, $3 WHERE $1 = ${GENERAL_ROOM_ID}
             ON CONFLICT (room_id, user_id) DO UPDATE SET last_read_id = EXCLUDED.last_read_id WHERE m.last_read_id < EXCLUDED.last_read_id`,
      values: [roomId, userId, messageId],
    })
    const moved = rowCount! > 0 || (roomId !== GENERAL_ROOM_ID && (await client.query({
      name: 'rooms-read-marker-move',
      text: 'UPDATE memberships SET last_read_id = $3 WHERE room_id = $1 AND user_id = $2 AND last_read_id < $3',
      values: [roomId, userId, messageId],
    })).rowCount! > 0)
    if (!moved) return 'unchanged'
    await publishMembership(client, roomId, userId, [userId])
    return 'moved'
  })
}

// Who may read a room: null for a public one (anyone), else its members' ids; undefined when there is no such room.
export async function roomReaders (db: Db, roomId: number): Promise<number[] | null | undefined> {
  const { rows } = await db.query<{ readers: number[] | null }>({
    name: 'memberships-room-readers',
    text: `SELECT CASE WHEN r.kind = 'public' THEN NULL ELSE ARRAY(SELECT m.user_id FROM memberships m WHERE m.room_id = r.id) END AS readers
           FROM rooms r WHERE r.id = $1`,
    values: [roomId],
  })
  return rows.length === 0 ? undefined : rows[0].readers
}

// Those of `userIds` who have a membership row in the room.
export async function membersAmong (db: Db, roomId: number, userIds: number[]): Promise<number[]> {
  const { rows } = await db.query<{ userId: number }>({
    name: 'memberships-members-among',
    text: 'SELECT user_id AS "userId" FROM memberships WHERE room_id = $1 AND user_id = ANY($2::int[])',
    values: [roomId, userIds],
  })
  return rows.map((row) => row.userId)
}
