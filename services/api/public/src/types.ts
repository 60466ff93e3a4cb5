// The server's JSON forms come from lib/models.ts (type-only: esbuild erases the import).
import type { MembershipJson, MessageJson, RoomJson, UserJson } from '../../../../lib/models'

export type User = UserJson
export type Message = MessageJson
export type Room = RoomJson
export type Membership = MembershipJson

// GET /api/client-config (services/api/routes/web.ts).
export interface ClientConfig {
  push_url: string | null
  push_port: number
  message_max_length: number
  nickname_pattern: string
}

export interface MessagePage { messages: Message[], _links: { older?: string, newer?: string } }
export interface SearchResult { message: Message, snippet: string }

export type ModelFrame =
  | { type: 'updated_model', seq: number, class: 'User', model: User }
  | { type: 'updated_model', seq: number, class: 'Message', model: Message }
  | { type: 'updated_model', seq: number, class: 'Room', model: Room }
  | { type: 'updated_model', seq: number, class: 'Membership', model: Membership }

// Frames the push service sends.
export type ServerFrame =
  | ModelFrame
  | { type: 'typing', room_id: number, user_id: number }
  | { type: 'reset' }
  | { type: 'ack', ref: string, task?: string }
  | { type: 'error', ref?: string, error: string }
