import { Type, type Static } from 'typebox'

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
  _links: Type.Object({ self: Type.String(), user: Type.String() }),
}, { $id: 'Message' })

export type UserJson = Static<typeof UserSchema>
export type MessageJson = Static<typeof MessageSchema>

export interface UserRow { id: number, createdAt: Date, updatedAt: Date, nickname: string, lastSeenAt: Date, online: boolean }
export interface MessageRow { id: number, createdAt: Date, updatedAt: Date, source: string, html: string, userId: number }

// 1-32 visible characters: no whitespace, separators or control/format characters.
export const NICKNAME_PATTERN = '^[^\\p{C}\\p{Z}\\s]{1,32}$'
export const isValidNickname = (nickname: string): boolean => new RegExp(NICKNAME_PATTERN, 'u').test(nickname)

export const isUuid = (id: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)

export const unixSeconds = (date: Date): number => Math.floor(date.getTime() / 1000)

export const userUrl = (id: number): string => `/api/users/${id}`
export const messageUrl = (id: number): string => `/api/messages/${id}`
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

export function messageJson (message: MessageRow): MessageJson {
  return {
    id: message.id,
    created_at: unixSeconds(message.createdAt),
    updated_at: unixSeconds(message.updatedAt),
    source: message.source,
    html: message.html,
    user_id: message.userId,
    _links: { self: messageUrl(message.id), user: userUrl(message.userId) },
  }
}

// The same public fields for raw queries, named as the Prisma model names them.
export const MESSAGE_COLUMNS = 'id, created_at AS "createdAt", updated_at AS "updatedAt", source, html, user_id AS "userId"'
export const USER_COLUMNS = 'id, created_at AS "createdAt", updated_at AS "updatedAt", nickname, last_seen_at AS "lastSeenAt", online'

// Selecting only these keeps password hashes out of every query result that leaves.
export const publicUserFields = { id: true, createdAt: true, updatedAt: true, nickname: true, lastSeenAt: true, online: true } as const
