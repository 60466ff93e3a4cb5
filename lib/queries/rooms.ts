import type pg from 'pg'
import { FOREIGN_KEY_VIOLATION, UNIQUE_VIOLATION, inTransaction, type Db } from '../db'
import { roomJson, type RoomKind, type RoomRow } from '../models'
import { GENERAL_ROOM_ID, readableBy } from './access'
import { publishEvent } from './events'
import { publishMembership } from './memberships'

// The rooms table: a room as a viewer sees it (role, read marker, unread count), and its changes,
// each published as a Room event in the transaction of the change.

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
const CAN_READ = { name: 'rooms-room-readable', text: `SELECT 1 WHERE ${readableBy('$2::int', '$1::int')}` }

// The viewer's view of a room, or null when it does not exist or the viewer may not read it.
export async function getRoom (db: Db, viewer: number | null, roomId: number): Promise<RoomRow | null> {
  const { rows } = await db.query<RoomRow>({ ...ROOM_BY_ID, values: [viewer, roomId] })
  return rows[0] ?? null
}

// A room's kind, whoever asks (null: no such room); it never changes once made.
export async function roomKind (db: Db, roomId: number): Promise<RoomKind | null> {
  const { rows } = await db.query<{ kind: RoomKind }>({ name: 'rooms-kind', text: 'SELECT kind FROM rooms WHERE id = $1', values: [roomId] })
  return rows[0]?.kind ?? null
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
export async function lockRoom (client: pg.PoolClient, roomId: number): Promise<{ kind: RoomKind } | null> {
  const { rows } = await client.query<{ kind: RoomKind }>({ name: 'rooms-room-lock', text: 'SELECT kind FROM rooms WHERE id = $1 FOR UPDATE', values: [roomId] })
  return rows[0] ?? null
}
