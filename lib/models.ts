import { Type, type Static, type TSchema, type TUnsafe } from './typebox'
import type { MessageModel, UserModel } from '../generated/prisma/models'

// Nullable fields and enumerations as `nullable` and `enum` (OpenAPI 3.0's own forms), never anyOf:
// for an anyOf, fast-json-stringify gives the serialiser of each route that sends it its own Ajv.
export function Nullable<T extends TSchema> (schema: T, options: Record<string, unknown> = {}): TUnsafe<Static<T> | null> {
  return Type.Unsafe<Static<T> | null>({ ...schema, ...options, nullable: true })
}
function OneOf<V extends string> (values: readonly V[]): TUnsafe<V> {
  return Type.Unsafe<V>({ type: 'string', enum: [...values] })
}
const NullableRole = (options: Record<string, unknown> = {}): TUnsafe<RoomRole | null> =>
  Type.Unsafe<RoomRole | null>({ type: 'string', enum: [...ROOM_ROLES, null], nullable: true, ...options })

// Public JSON forms of the chat models, shared by REST responses and push events.
export const UserSchema = Type.Object({
  id: Type.Integer(),
  created_at: Type.Integer(),
  updated_at: Type.Integer(),
  nickname: Type.String(),
  last_seen_at: Type.Integer(),
  online: Type.Boolean(),
  _links: Type.Object({ self: Type.String(), messages: Type.String(), tokens: Type.String() }),
}, { $id: 'User' })

export const MessageSchema = Type.Object({
  id: Type.Integer(),
  created_at: Type.Integer(),
  updated_at: Type.Integer(),
  source: Type.String(),
  html: Type.String(),
  user_id: Type.Integer(),
  room_id: Type.Integer(),
  edited_at: Nullable(Type.Integer()),
  deleted: Type.Boolean(),
  _links: Type.Object({ self: Type.String(), user: Type.String() }),
}, { $id: 'Message' })

export const ROOM_KINDS = ['public', 'private', 'direct'] as const
export type RoomKind = typeof ROOM_KINDS[number]
export const ROOM_ROLES = ['owner', 'member'] as const
export type RoomRole = typeof ROOM_ROLES[number]

// The last four fields only for a request with a token: that user's place in the room.
export const RoomSchema = Type.Object({
  id: Type.Integer(),
  name: Nullable(Type.String(), { description: 'null for a direct room' }),
  topic: Type.String(),
  kind: OneOf(ROOM_KINDS),
  created_at: Type.Integer(),
  updated_at: Type.Integer(),
  created_by: Nullable(Type.Integer(), { description: 'null for general (made by the migration) or a deleted user' }),
  member_count: Type.Integer(),
  _links: Type.Object({ self: Type.String(), messages: Type.String(), members: Type.String() }),
  member: Type.Optional(Type.Boolean()),
  role: Type.Optional(NullableRole()),
  last_read_id: Type.Optional(Nullable(Type.Integer())),
  unread: Type.Optional(Nullable(Type.Integer(), { description: 'messages by others after last_read_id, at most 999' })),
}, { $id: 'Room' })

// A push frame's model for joins, leaves (role null), role changes and read-marker moves.
export const MembershipSchema = Type.Object({
  room_id: Type.Integer(),
  user_id: Type.Integer(),
  role: NullableRole({ description: 'null: no longer a member' }),
  last_read_id: Nullable(Type.Integer()),
}, { $id: 'Membership' })

export type UserJson = Static<typeof UserSchema>
export type MessageJson = Static<typeof MessageSchema>
export type RoomJson = Static<typeof RoomSchema>
export type MembershipJson = Static<typeof MembershipSchema>

// Rows as queries return them, typed by the generated Prisma models (import type: erased at build).
// A user row never carries the password hash.
export type UserRow = Omit<UserModel, 'passwordHash'>
export type MessageRow = MessageModel

// 1-32 visible characters: no whitespace, separators or control/format characters.
export const NICKNAME_PATTERN = '^[^\\p{C}\\p{Z}\\s]{1,32}$'
export const isValidNickname = (nickname: string): boolean => new RegExp(NICKNAME_PATTERN, 'u').test(nickname)

// A client's Idempotency-Key (REST header or post_message's `key`): 1 to 128 visible ASCII characters.
export const IDEMPOTENCY_KEY_PATTERN = '^[\\x21-\\x7e]{1,128}$'

export const isUuid = (id: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)

export const unixSeconds = (date: Date): number => Math.floor(date.getTime() / 1000)

export const userUrl = (id: number): string => `/api/users/${id}`
export const messageUrl = (id: number): string => `/api/messages/${id}`
export const roomUrl = (id: number): string => `/api/rooms/${id}`
export const taskUrl = (id: string): string => `/api/tasks/${id}`

export function userJson (user: UserRow): UserJson {
  return {
    id: user.id,
    created_at: unixSeconds(user.createdAt),
    updated_at: unixSeconds(user.updatedAt),
    nickname: user.nickname,
    last_seen_at: unixSeconds(user.lastSeenAt),
    online: user.online,
    _links: { self: userUrl(user.id), messages: `/api/messages?user_id=${user.id}`, tokens: '/api/tokens' },
  }
}

// A room as one viewer sees it: role, lastReadId and unread are null for a non-member.
export interface RoomRow {
  id: number, name: string | null, topic: string, kind: RoomKind, createdBy: number | null, createdAt: Date, updatedAt: Date,
  memberCount: number, role: RoomRole | null, lastReadId: number | null, unread: number | null
}

// withViewer: the request had a token, so its user's place in the room is part of the answer.
export function roomJson (room: RoomRow, withViewer: boolean): RoomJson {
  const url = roomUrl(room.id)
  const json: RoomJson = {
    id: room.id,
    name: room.name,
    topic: room.topic,
    kind: room.kind,
    created_at: unixSeconds(room.createdAt),
    updated_at: unixSeconds(room.updatedAt),
    created_by: room.createdBy,
    member_count: room.memberCount,
    _links: { self: url, messages: `${url}/messages`, members: `${url}/members` },
  }
  if (withViewer) Object.assign(json, { member: room.role !== null, role: room.role, last_read_id: room.lastReadId, unread: room.unread })
  return json
}

export interface MembershipRow { roomId: number, userId: number, role: RoomRole | null, lastReadId: number | null }

export function membershipJson (membership: MembershipRow): MembershipJson {
  return { room_id: membership.roomId, user_id: membership.userId, role: membership.role, last_read_id: membership.lastReadId }
}

export function messageJson (message: MessageRow): MessageJson {
  return {
    id: message.id,
    created_at: unixSeconds(message.createdAt),
    updated_at: unixSeconds(message.updatedAt),
    // A deleted message is a tombstone, whatever its row still holds.
    source: message.deleted ? '' : message.source,
    html: message.deleted ? '' : message.html,
    user_id: message.userId,
    room_id: message.roomId,
    edited_at: message.editedAt === null ? null : unixSeconds(message.editedAt),
    deleted: message.deleted,
    _links: { self: messageUrl(message.id), user: userUrl(message.userId) },
  }
}

// The columns of those rows, named as the Prisma models name them: every query selects these.
export const MESSAGE_COLUMNS = 'id, created_at AS "createdAt", updated_at AS "updatedAt", source, html, user_id AS "userId", ' +
  'room_id AS "roomId", edited_at AS "editedAt", deleted'
export const USER_COLUMNS = 'id, created_at AS "createdAt", updated_at AS "updatedAt", nickname, last_seen_at AS "lastSeenAt", online'
