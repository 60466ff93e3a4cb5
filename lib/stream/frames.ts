// The push protocol's JSON text frames: what the server writes and what it accepts.

import { GENERAL_ROOM_ID } from '../queries/access'
import { IDEMPOTENCY_KEY_PATTERN } from '../models'

export type Ref = string | number

// A server frame, serialised once and written as is to every client that gets it. readers: the
// users who may see it (a private or direct room's members), or null when anyone may.
export interface EventFrame { seq: number, data: Buffer, readers: number[] | null }

// Built from the stored jsonb text, so the model is never parsed and re-serialised.
export function eventFrame (seq: string, cls: string, modelJson: string, readers: number[] | null = null): EventFrame {
  return {
    seq: Number(seq),
    data: Buffer.from(`{"type":"updated_model","seq":${seq},"class":${JSON.stringify(cls)},"model":${modelJson}}`),
    readers,
  }
}

// What a frame holds in memory: its bytes, and its readers at a generous 8 bytes each.
export const frameBytes = (frame: EventFrame): number => frame.data.length + (frame.readers === null ? 0 : 8 * frame.readers.length)

// The one rule every push path applies: an anonymous or untied socket sees events anyone may
// see; a socket tied to a user also those of the rooms that user was in when they happened.
export const visibleTo = (frame: EventFrame, viewer: number | null): boolean =>
  frame.readers === null || (viewer !== null && frame.readers.includes(viewer))

// Frames as they go on the wire (RFC 6455 §5.2: final, text, unmasked from a server), joined:
// built once per batch, written with a single call to each socket that takes the whole batch.
export function wireFrames (frames: EventFrame[]): Buffer {
  const parts: Buffer[] = []
  for (const { data } of frames) {
    const length = data.length
    const header = Buffer.allocUnsafe(length < 126 ? 2 : length < 65536 ? 4 : 10)
    header[0] = 0x81
    if (length < 126) {
      header[1] = length
    } else if (length < 65536) {
      header[1] = 126
      header.writeUInt16BE(length, 2)
    } else {
      header[1] = 127
      header.writeBigUInt64BE(BigInt(length), 2)
    }
    parts.push(header, data)
  }
  return Buffer.concat(parts)
}

export const RESET_FRAME = Buffer.from('{"type":"reset"}')

export const errorFrame = (error: string, ref?: Ref): string =>
  JSON.stringify(ref === undefined ? { type: 'error', error } : { type: 'error', ref, error })

export const typingFrame = (roomId: number, userId: number): string => JSON.stringify({ type: 'typing', room_id: roomId, user_id: userId })

export const ackFrame = (ref: Ref, fields: Record<string, unknown> = {}): string =>
  JSON.stringify({ type: 'ack', ref, ...fields })

export type ClientFrame =
  | { type: 'ping_user', token: string, ref?: Ref }
  | { type: 'post_message', token: string, source: unknown, roomId: number, key?: string, ref?: Ref }
  | { type: 'typing', token: string, roomId: number, ref?: Ref }

// Room ids are PostgreSQL integers.
const MAX_ROOM_ID = 2147483647

const MAX_REF_LENGTH = 128
const IDEMPOTENCY_KEY = new RegExp(IDEMPOTENCY_KEY_PATTERN)
const MAX_TOKEN_LENGTH = 2048

// Parses one text frame; a string is the error to answer with (and the ref, when one was readable).
export function parseClientFrame (text: string): ClientFrame | { error: string, ref?: Ref } {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { error: 'Frame is not valid JSON' }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'Frame must be a JSON object' }
  const frame = value as Record<string, unknown>
  let ref: Ref | undefined
  if (frame.ref !== undefined) {
    const valid = (typeof frame.ref === 'string' && frame.ref.length <= MAX_REF_LENGTH) ||
      (typeof frame.ref === 'number' && Number.isFinite(frame.ref))
    if (!valid) return { error: `ref must be a string of at most ${MAX_REF_LENGTH} characters or a number` }
    ref = frame.ref as Ref
  }
  if (typeof frame.type !== 'string') return { error: 'Frame must have a string type', ref }
  if (frame.type !== 'ping_user' && frame.type !== 'post_message' && frame.type !== 'typing') return { error: `Unknown frame type: ${frame.type.slice(0, 64)}`, ref }
  if (typeof frame.token !== 'string' || frame.token.length === 0) return { error: 'A token is required', ref }
  if (frame.token.length > MAX_TOKEN_LENGTH) return { error: 'Invalid or expired token', ref }
  if (frame.type === 'ping_user') return { type: 'ping_user', token: frame.token, ref }
  // Typing names its room; a post without one goes to general, as Flack's did.
  const roomId = frame.room_id === undefined && frame.type === 'post_message' ? GENERAL_ROOM_ID : frame.room_id
  if (typeof roomId !== 'number' || !Number.isInteger(roomId) || roomId < 1 || roomId > MAX_ROOM_ID) {
    return { error: 'room_id must be a positive integer', ref }
  }
  if (frame.type === 'typing') return { type: 'typing', token: frame.token, roomId, ref }
  if (frame.key !== undefined && (typeof frame.key !== 'string' || !IDEMPOTENCY_KEY.test(frame.key))) {
    return { error: 'key must be 1 to 128 visible ASCII characters', ref }
  }
  return { type: 'post_message', token: frame.token, source: frame.source, roomId, key: frame.key as string | undefined, ref }
}
