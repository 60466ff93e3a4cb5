import type { Test } from 'tap'
import type pg from 'pg'
import { publishEvent } from '../../lib/queries/events'
import { inTransaction } from '../../lib/db'
import { MESSAGE_COLUMNS, messageJson, type MessageRow } from '../../lib/models'
import { waitFor, type TestUser } from '../helper'
import { connect, type Frame, type TestClient } from './helper'

// A message stored and published as the worker does, in one transaction (posting into rooms through
// the worker comes later); resolves to its event's seq.
export async function postInRoom (pool: pg.Pool, roomId: number, userId: number, source: string): Promise<number> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<MessageRow>(
      `INSERT INTO messages (source, html, user_id, room_id) VALUES ($1, $1, $2, $3) RETURNING ${MESSAGE_COLUMNS}`, [source, userId, roomId])
    return Number(await publishEvent(client, 'Message', messageJson(rows[0])))
  })
}

// The room a frame belongs to, or null (a User, or not a model at all).
export function roomOf (frame: Frame): number | null {
  if (frame.type !== 'updated_model' || frame.model === undefined) return null
  if (frame.class === 'Room') return frame.model.id as number
  if (frame.class === 'Message' || frame.class === 'Membership') return frame.model.room_id as number
  return null
}

export interface SocketOptions { since?: number, auth?: boolean }

// A socket; with a user, tied by ping_user (acknowledged) before it is handed back. The frames
// before the ack stay queued: with since, the replay may come first.
export async function socketAs (t: Test, url: string, user: TestUser | null, options: SocketOptions = {}): Promise<TestClient> {
  const query = new URLSearchParams()
  if (options.since !== undefined) query.set('since', String(options.since))
  if (options.auth === true) query.set('auth', '1')
  const client = await connect(t, query.size === 0 ? url : `${url}?${query.toString()}`)
  if (user !== null) {
    client.send({ type: 'ping_user', token: user.token, ref: 'tie' })
    await waitFor(async () => client.frames.some((frame) => frame.type === 'ack' && frame.ref === 'tie'), 10000, 'ping_user acknowledged')
  }
  return client
}

// Every model frame up to and including the one of `seq` (an event everyone sees, as a fence).
export async function framesUntil (client: TestClient, seq: number, ms = 15000): Promise<Frame[]> {
  const frames: Frame[] = []
  const deadline = Date.now() + ms
  for (;;) {
    const frame = await client.next(Math.max(1, deadline - Date.now()))
    if (frame.type !== 'updated_model') continue
    frames.push(frame)
    if ((frame.seq as number) >= seq) return frames
  }
}

// The seqs of the frames of these rooms, in the order received.
export const roomSeqs = (frames: Frame[], rooms: Set<number>): number[] =>
  frames.filter((frame) => rooms.has(roomOf(frame) ?? -1)).map((frame) => frame.seq as number)
