import type pg from 'pg'
import { inTransaction, type Db } from './db'
import { publishEvent } from './events'
import { MESSAGE_COLUMNS, USER_COLUMNS, membershipJson, roomJson, type MessageRow, type RoomKind, type RoomRole, type RoomRow, type UserRow } from './models'

// Queries of rooms and memberships. The access rule lives here once: a public room is readable
// by anyone (anonymous included), a private or direct room by its members only. Everyone is a
// member of general (room 1) without a row.

export const GENERAL_ROOM_ID = 1
export const UNREAD_CAP = 999

// A row per room with the viewer ($1) membership: a row, or general's implicit one.
const VIEWED_ROOMS = `
  SELECT r.*, COALESCE(me.role, CASE WHEN r.id = ${GENERAL_ROOM_ID} AND $1::int IS NOT NULL THEN 'member' END) AS role,
         COALESCE(me.last_read_id, CASE WHEN r.id = ${GENERAL_ROOM_ID} AND $1::int IS NOT NULL THEN 0 END) AS last_read_id
  FROM rooms r LEFT JOIN memberships me ON me.room_id = r.id AND me.user_id = $1::int`

const READABLE = "(v.kind = 'public' OR v.role IS NOT NULL)"

const ROOM_VIEW_COLUMNS = `v.id, v.name, v.topic, v.kind, v.created_by AS "createdBy", v.created_at AS "createdAt", v.updated_at AS "updatedAt",
  (CASE WHEN v.id = ${GENERAL_ROOM_ID} THEN (SELECT count(*) FROM users)
        ELSE (SELECT count(*) FROM memberships m WHERE m.room_id = v.id) END)::int AS "memberCount",
  v.role, v.last_read_id AS "lastReadId",
  CASE WHEN v.role IS NOT NULL THEN (SELECT count(*)::int FROM (
    SELECT 1 FROM messages x WHERE x.room_id = v.id AND x.id > v.last_read_id AND x.user_id <> $1::int AND NOT x.deleted LIMIT ${UNREAD_CAP}) q)
  END AS unread`

const ROOM_BY_ID = {
  name: 'rooms-room-view',
  text: `SELECT ${ROOM_VIEW_COLUMNS} FROM (${VIEWED_ROOMS} WHERE r.id = $2) v WHERE ${READABLE}`,
}
const ROOMS_OF = {
  name: 'rooms-rooms-of-viewer',
  text: `SELECT ${ROOM_VIEW_COLUMNS} FROM (${VIEWED_ROOMS} WHERE r.kind = 'public' OR me.user_id IS NOT NULL) v WHERE ${READABLE}
         ORDER BY v.name_key NULLS LAST, v.name, v.id`,
}
// The room as nobody in particular sees it: the model of its push events.
const ROOM_FOR_EVENT = {
  name: 'rooms-room-event',
  text: `SELECT ${ROOM_VIEW_COLUMNS} FROM (${VIEWED_ROOMS} WHERE r.id = $2) v`,
}
// The read rule as a SQL condition, also for statements that check it as they write (the worker's
// batch): the room whose id is the expression `room` may be read by the user whose id is `user`.
export const readableBy = (room: string, user: string): string =>
  `EXISTS (SELECT 1 FROM rooms r WHERE r.id = ${room} AND (r.kind = 'public'
     OR EXISTS (SELECT 1 FROM memberships me WHERE me.room_id = r.id AND me.user_id = ${user})))`

// Run before such a check, as its own statement: a removal (which locks the room FOR UPDATE) then
// commits before the check's snapshot, or waits until the write commits, never between. Public
// rooms are readable by anyone, so they are not locked. `ids`: an int[] expression.
export const lockRooms = (ids: string): string => `SELECT 1 FROM rooms WHERE id = ANY(${ids}) AND kind <> 'public' ORDER BY id FOR SHARE`

const CAN_READ = { name: 'rooms-room-readable', text: `SELECT 1 WHERE ${readableBy('$2::int', '$1::int')}` }

// The viewer's view of a room, or null when it does not exist or the viewer may not read it.
export async function getRoom (db: Db, viewer: number | null, roomId: number): Promise<RoomRow | null> {
  const { rows } = await db.query<RoomRow>({ ...ROOM_BY_ID, values: [viewer, roomId] })
  return rows[0] ?? null
}

export async function canRead (db: Db, viewer: number | null, roomId: number): Promise<boolean> {
  const { rowCount } = await db.query({ ...CAN_READ, values: [viewer, roomId] })
  return rowCount !== null && rowCount > 0
}

// Public rooms and the viewer's private and direct rooms, by name (direct rooms, unnamed, last).
export async function listRooms (db: Db, viewer: number | null): Promise<RoomRow[]> {
  return (await db.query<RoomRow>({ ...ROOMS_OF, values: [viewer] })).rows
}

// Room and Membership events go out in the transaction of the change, so push shows exactly what committed.
async function publishRoom (client: pg.PoolClient, roomId: number): Promise<void> {
  const { rows } = await client.query<RoomRow>({ ...ROOM_FOR_EVENT, values: [null, roomId] })
  if (rows.length > 0) await publishEvent(client, 'Room', roomJson(rows[0], false))
}

// The user's membership as it now is: role null once removed. onlyTo: its readers instead of the room's.
async function publishMembership (client: pg.PoolClient, roomId: number, userId: number, onlyTo?: number[]): Promise<void> {
  const { rows } = await client.query<{ role: RoomRole, lastReadId: number }>({
    name: 'rooms-membership-event',
    text: 'SELECT role, last_read_id AS "lastReadId" FROM memberships WHERE room_id = $1 AND user_id = $2',
    values: [roomId, userId],
  })
  const now = rows[0] ?? { role: null, lastReadId: null }
  await publishEvent(client, 'Membership', membershipJson({ roomId, userId, ...now }), onlyTo)
}

// Public names are unique up to case and Unicode compatibility forms: the key they are compared by.
export const nameKey = (name: string): string => name.normalize('NFKC').toUpperCase().toLowerCase()

export interface NewRoom { name: string, topic: string, kind: 'public' | 'private' }

// Creates a room with its creator as owner; null when the name of a public room is taken.
export async function createRoom (db: Db, creatorId: number, room: NewRoom): Promise<number | null> {
  return inTransaction(db, async (client) => {
    const { rows } = await client.query<{ id: number }>({
      name: 'rooms-room-create',
      text: `INSERT INTO rooms (name, name_key, topic, kind, created_by) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (name_key) WHERE kind = 'public' DO NOTHING RETURNING id`,
      values: [room.name, nameKey(room.name), room.topic, room.kind, creatorId],
    })
    if (rows.length === 0) return null
    await client.query({ name: 'rooms-room-owner', text: "INSERT INTO memberships (room_id, user_id, role) VALUES ($1, $2, 'owner')", values: [rows[0].id, creatorId] })
    await publishRoom(client, rows[0].id)
    await publishMembership(client, rows[0].id, creatorId)
    return rows[0].id
  })
}

const UNIQUE_VIOLATION = '23505'
const FOREIGN_KEY_VIOLATION = '23503'

// Renames and/or sets the topic; false when the new name of a public room is taken.
export async function updateRoom (db: Db, roomId: number, change: { name?: string, topic?: string }): Promise<boolean> {
  try {
    await inTransaction(db, async (client) => {
      await client.query({
        name: 'rooms-room-update',
        text: `UPDATE rooms SET name = COALESCE($2, name), name_key = COALESCE($3, name_key), topic = COALESCE($4, topic), updated_at = now()
               WHERE id = $1`,
        values: [roomId, change.name ?? null, change.name === undefined ? null : nameKey(change.name), change.topic ?? null],
      })
      await publishRoom(client, roomId)
    })
    return true
  } catch (err) {
    if ((err as { code?: string }).code === UNIQUE_VIOLATION) return false
    throw err
  }
}

export const directKey = (a: number, b: number): string => `${Math.min(a, b)}:${Math.max(a, b)}`

// The direct room of two users (the same twice: one's notes to self), made once however many ask
// at the same time: the unique pair key decides. null when the other user does not exist.
export async function directRoom (db: Db, userId: number, otherId: number): Promise<{ roomId: number, created: boolean } | null> {
  return makeDirectRoom(db, userId, otherId).catch((err: { code?: string }) => {
    // The other user was deleted meanwhile: as absent as one never registered.
    if (err.code === FOREIGN_KEY_VIOLATION) return null
    throw err
  })
}

async function makeDirectRoom (db: Db, userId: number, otherId: number): Promise<{ roomId: number, created: boolean } | null> {
  return inTransaction(db, async (client) => {
    const { rows } = await client.query<{ id: number }>({
      name: 'rooms-direct-create',
      text: `INSERT INTO rooms (kind, direct_key, created_by) SELECT 'direct', $1, $2 WHERE EXISTS (SELECT 1 FROM users WHERE id = $3)
             ON CONFLICT (direct_key) DO NOTHING RETURNING id`,
      values: [directKey(userId, otherId), userId, otherId],
    })
    if (rows.length > 0) {
      await client.query({
        name: 'rooms-direct-members',
        text: "INSERT INTO memberships (room_id, user_id, role) SELECT $1, u, 'member' FROM unnest($2::int[]) AS u ON CONFLICT DO NOTHING",
        values: [rows[0].id, [userId, otherId]],
      })
      await publishRoom(client, rows[0].id)
      for (const member of new Set([userId, otherId])) await publishMembership(client, rows[0].id, member)
      return { roomId: rows[0].id, created: true }
    }
    const existing = await client.query<{ id: number }>({
      name: 'rooms-direct-find',
      text: 'SELECT id FROM rooms WHERE direct_key = $1 AND EXISTS (SELECT 1 FROM users WHERE id = $2)',
      values: [directKey(userId, otherId), otherId],
    })
    return existing.rows.length === 0 ? null : { roomId: existing.rows[0].id, created: false }
  })
}

// The room's row, locked: membership changes of one room run one at a time.
async function lockRoom (client: pg.PoolClient, roomId: number): Promise<{ kind: RoomKind } | null> {
  const { rows } = await client.query<{ kind: RoomKind }>({ name: 'rooms-room-lock', text: 'SELECT kind FROM rooms WHERE id = $1 FOR UPDATE', values: [roomId] })
  return rows[0] ?? null
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
    const user = await client.query({ name: 'rooms-user-exists', text: 'SELECT 1 FROM users WHERE id = $1', values: [userId] })
    if (user.rowCount === 0) return 'no_user'
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

export interface PageQuery { before?: number, after?: number, limit: number }
export interface Page { messages: MessageRow[], older: number | null, newer: number | null }

// Pages walk the (room_id, id) index from the cursor: one index range per page, as cheap at the
// ten-millionth message as at the tenth. The id bound is bigint so "no cursor" needs no other plan.
// Keyset form on purpose: with `room_id = $1 ... ORDER BY id` a generic plan may walk the primary
// key filtering by room, reading the whole table below the cursor for a quiet room; ordered by
// (room_id, id) with a row comparison, only this index gives the order without a sort.
const PAGE_BACKWARD = {
  name: 'rooms-page-backward',
  text: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE (room_id, id) < ($1, $2::bigint) AND room_id >= $1 ORDER BY room_id DESC, id DESC LIMIT $3`,
}
const PAGE_FORWARD = {
  name: 'rooms-page-forward',
  text: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE (room_id, id) > ($1, $2::bigint) AND room_id <= $1 ORDER BY room_id, id LIMIT $3`,
}
const HAS_NEWER = { name: 'rooms-page-has-newer', text: 'SELECT 1 FROM messages WHERE (room_id, id) > ($1, $2::bigint) AND room_id <= $1 ORDER BY room_id, id LIMIT 1' }
const HAS_OLDER = { name: 'rooms-page-has-older', text: 'SELECT 1 FROM messages WHERE (room_id, id) < ($1, $2::bigint) AND room_id >= $1 ORDER BY room_id DESC, id DESC LIMIT 1' }
const NO_CURSOR = 2 ** 31
// For the test that checks their plans.
export const PAGE_QUERIES = { PAGE_BACKWARD, PAGE_FORWARD, HAS_NEWER, HAS_OLDER }

// One page of a room's full history, oldest first (tombstones included, so clients drop them).
// older/newer: the cursor (a `before` / an `after` id) of the next page that way, null when none.
export async function messagePage (db: Db, roomId: number, query: PageQuery): Promise<Page> {
  const forward = query.after !== undefined
  const cursor = query.after ?? query.before ?? NO_CURSOR
  const { rows } = await db.query<MessageRow>({ ...(forward ? PAGE_FORWARD : PAGE_BACKWARD), values: [roomId, cursor, query.limit + 1] })
  const more = rows.length > query.limit
  const messages = rows.slice(0, query.limit)
  if (!forward) messages.reverse()
  if (forward) {
    // The older side: anything before the page's first message (or, for an empty page, up to the cursor).
    // Capped: a link past the largest id would not pass validation.
    const edge = messages.length > 0 ? messages[0].id : Math.min(cursor + 1, 2 ** 31 - 1)
    const older = (await db.query({ ...HAS_OLDER, values: [roomId, edge] })).rowCount! > 0
    return { messages, older: older ? edge : null, newer: more ? messages[messages.length - 1].id : null }
  }
  const edge = messages.length > 0 ? messages[messages.length - 1].id : cursor - 1
  const newer = query.before !== undefined && (await db.query({ ...HAS_NEWER, values: [roomId, edge] })).rowCount! > 0
  return { messages, older: more ? messages[0].id : null, newer: newer ? edge : null }
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

// Whether `userId` may post into `roomId`; a public room not yet joined is joined (everyone is in general).
export async function enterToPost (db: Db, userId: number, roomId: number): Promise<boolean> {
  // The role and the read rule alone: the full room view (member and unread counts) is not needed here.
  if (roomId === GENERAL_ROOM_ID || await roleIn(db, roomId, userId) !== null) return true
  // A room readable by a non-member is a public one: posting joins it.
  return await canRead(db, userId, roomId) && await addMember(db, roomId, userId, userId) !== 'no_room'
}
