import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import type { TestUser } from '../helper'
import { publishEvents } from '../../lib/queries/events'
import { MESSAGE_COLUMNS, messageJson, type MessageRow } from '../../lib/models'

export interface RoomJson { id: number, name: string | null, kind: string, member_count: number, member?: boolean, role?: string | null, [field: string]: unknown }

// Creates a room through the API as `user`; fails the test on anything but 201.
export async function createRoom (app: FastifyInstance, user: TestUser, name: string, isPrivate = false): Promise<RoomJson> {
  const res = await app.inject({ method: 'POST', url: '/api/rooms', headers: user.auth, payload: { name, private: isPrivate } })
  if (res.statusCode !== 201) throw new Error(`create room failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

export async function directRoom (app: FastifyInstance, user: TestUser, other: { id: number }): Promise<RoomJson> {
  const res = await app.inject({ method: 'POST', url: `/api/users/${other.id}/direct`, headers: user.auth })
  if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`direct room failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

export async function addMember (app: FastifyInstance, user: TestUser, roomId: number, memberId: number): Promise<void> {
  const res = await app.inject({ method: 'PUT', url: `/api/rooms/${roomId}/members/${memberId}`, headers: user.auth })
  if (res.statusCode !== 204) throw new Error(`add member failed: ${res.statusCode} ${res.body}`)
}

// Messages written as the worker writes them, events included (the api's list cache follows them).
export async function insertMessages (pool: pg.Pool, roomId: number, userId: number, n: number, prefix = 'm'): Promise<number[]> {
  const { rows } = await pool.query<MessageRow>(
    `INSERT INTO messages (source, html, user_id, room_id) SELECT $4 || i, $4 || i, $2, $1 FROM generate_series(1, $3::int) AS i RETURNING ${MESSAGE_COLUMNS}`,
    [roomId, userId, n, prefix])
  if (rows.length > 0) await publishEvents(pool, 'Message', rows.map(messageJson))
  return rows.map((row) => row.id)
}

// Makes a message a tombstone as a delete does, event included.
export async function markDeleted (pool: pg.Pool, id: number): Promise<void> {
  const { rows } = await pool.query<MessageRow>(`UPDATE messages SET deleted = true WHERE id = $1 RETURNING ${MESSAGE_COLUMNS}`, [id])
  await publishEvents(pool, 'Message', rows.map(messageJson))
}
