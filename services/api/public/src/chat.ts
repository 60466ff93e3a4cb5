// What the page's parts share while someone is signed in; main.ts makes it.
import type { Api } from './api'
import type { PushSocket } from './push'
import type { ChatState } from './state'
import type { Sync } from './sync'
import type { ClientConfig } from './types'

export interface Chat {
  readonly api: Api
  readonly config: ClientConfig
  readonly state: ChatState
  readonly sync: Sync
  readonly push: () => PushSocket | null
  // The room on screen.
  roomId: number
  openRoom: (roomId: number, aroundMessageId?: number) => Promise<void>
  // Sidebar, room header and tab title again.
  roomsChanged: () => void
  report: (err: unknown) => void
}
