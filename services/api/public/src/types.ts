// The server's JSON forms (see lib/models.ts and docs/API.md), as the page uses them.
export interface User {
  id: number
  created_at: number
  updated_at: number
  nickname: string
  last_seen_at: number
  online: boolean
}

export interface Message {
  id: number
  created_at: number
  updated_at: number
  source: string
  html: string
  user_id: number
  room_id: number
}

export interface ClientConfig {
  push_url: string | null
  push_port: number
}

// Frames the push service sends.
export type ServerFrame =
  | { type: 'updated_model', seq: number, class: 'User', model: User }
  | { type: 'updated_model', seq: number, class: 'Message', model: Message }
  | { type: 'reset' }
  | { type: 'ack', ref: string, task?: string }
  | { type: 'error', ref?: string, error: string }
