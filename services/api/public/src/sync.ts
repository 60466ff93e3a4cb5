// Keeps ChatState in step with the server: REST snapshots plus socket frames, in order.
// No DOM here either: the page passes in its Api and listens to what changed.
import type { Api } from './api'
import { ApiError } from './api'
import type { ChatState, MessageChange } from './state'
import type { Message, ServerFrame } from './types'

export interface SyncListener {
  users: () => void
  rooms: () => void
  // We are no longer a member of this private or direct room (removed, or left from another tab).
  removed: (roomId: number) => void
  // A room's loaded messages changed: `message` for one pushed change, none for a reload.
  messages: (roomId: number, change?: MessageChange, message?: Message) => void
  typing: (roomId: number) => void
  error: (err: unknown) => void
}

export type SyncApi = Pick<Api, 'users' | 'rooms' | 'room' | 'members' | 'page' | 'markRead'>

const PAGE = 50
// Pushed messages of rooms not on screen: their unread count is fetched once per burst.
const REFETCH_DELAY_MS = 250

export class Sync {
  // While a REST snapshot loads, frames wait here and are applied after it, in order.
  private loading = 0
  private held: ServerFrame[] = []
  private readonly refetches = new Map<number, ReturnType<typeof setTimeout>>()
  private readonly pagesInFlight = new Set<string>()
  private stopped = false

  constructor (readonly state: ChatState, private readonly api: SyncApi, private readonly listener: SyncListener) {}

  stop (): void {
    this.stopped = true
    for (const timer of this.refetches.values()) clearTimeout(timer)
    this.refetches.clear()
  }

  // Everything again: users, rooms and the shown room's newest page; other rooms' pages are dropped.
  async load (shownRoom: number | null): Promise<void> {
    await this.holding(async () => {
      const [users, rooms] = await Promise.all([this.api.users(), this.api.rooms()])
      if (this.stopped) return
      this.state.setUsers(users)
      this.state.setRooms(rooms)
      await Promise.all(rooms.filter((r) => r.kind === 'direct' && !this.state.directPeers.has(r.id)).map((r) => this.findPeer(r.id)))
      for (const id of [...this.state.histories.keys()]) if (id !== shownRoom) this.state.histories.delete(id)
      this.listener.users()
      this.listener.rooms()
      if (shownRoom !== null && this.state.rooms.has(shownRoom)) await this.loadNewest(shownRoom)
    })
  }

  onFrame (frame: ServerFrame): void {
    if (this.stopped) return
    if (frame.type === 'typing') {
      this.state.startTyping(frame.room_id, frame.user_id, Date.now())
      this.listener.typing(frame.room_id)
    } else if (frame.type === 'updated_model') {
      if (this.loading > 0) this.held.push(frame)
      else this.apply(frame)
    }
  }

  private apply (frame: ServerFrame): void {
    if (frame.type !== 'updated_model') return
    const { state } = this
    if (frame.class === 'User') {
      if (state.applyUser(frame.model)) this.listener.users()
    } else if (frame.class === 'Room') {
      if (state.applyRoom(frame.model) === 'added') this.refetchRoom(frame.model.id)
      this.listener.rooms()
    } else if (frame.class === 'Membership') {
      const outcome = state.applyMembership(frame.model)
      if (outcome === 'refetch') this.refetchRoom(frame.model.room_id)
      if (outcome === 'removed') this.listener.removed(frame.model.room_id)
      this.listener.rooms()
    } else if (frame.class === 'Message') {
      const message = frame.model
      const change = state.applyMessage(message)
      if (change !== 'ignored') this.listener.messages(message.room_id, change, message)
      // Only the server can count what we have not loaded.
      if (!state.histories.has(message.room_id) || change === 'ignored') this.refetchRoom(message.room_id)
      else this.listener.rooms()
    }
  }

  // A room's JSON again (our place, unread, member count), once per burst of frames.
  refetchRoom (roomId: number): void {
    if (this.refetches.has(roomId) || this.stopped) return
    this.refetches.set(roomId, setTimeout(() => {
      this.refetches.delete(roomId)
      this.api.room(roomId).then(async (room) => {
        if (this.stopped) return
        this.state.applyRoom(room)
        if (room.kind === 'direct' && !this.state.directPeers.has(room.id)) await this.findPeer(room.id)
        this.listener.rooms()
      }, (err: unknown) => {
        if (!(err instanceof ApiError) || err.status !== 404) return this.listener.error(err)
        this.state.forgetRoom(roomId)
        this.listener.rooms()
      })
    }, REFETCH_DELAY_MS))
  }

  async findPeer (roomId: number): Promise<void> {
    const members = await this.api.members(roomId)
    const peer = members.find((u) => u.id !== this.state.me) ?? members.find((u) => u.id === this.state.me)
    if (peer === undefined) return
    this.state.applyUser(peer)
    this.state.directPeers.set(roomId, peer.id)
  }

  // ---- History

  async loadNewest (roomId: number): Promise<void> {
    await this.once(`newest-${roomId}`, async () => {
      const page = await this.api.page(roomId, {}, PAGE)
      this.state.addPage(roomId, page, 'newest')
      this.listener.messages(roomId)
      this.listener.rooms()
    })
  }

  // The page just older than what is loaded; false when there is none.
  async loadOlder (roomId: number): Promise<boolean> {
    const history = this.state.history(roomId)
    if (history === undefined || !history.hasOlder) return false
    const oldest = Math.min(...history.messages.keys(), ...history.versions.keys())
    return this.once(`older-${roomId}`, async () => {
      const page = await this.api.page(roomId, { before: oldest }, PAGE)
      this.state.addPage(roomId, page, 'older')
      this.listener.messages(roomId)
      return true
    })
  }

  async loadNewer (roomId: number): Promise<boolean> {
    const history = this.state.history(roomId)
    if (history === undefined || !history.hasNewer) return false
    const newest = Math.max(...history.messages.keys(), ...history.versions.keys())
    return this.once(`newer-${roomId}`, async () => {
      const page = await this.api.page(roomId, { after: newest }, PAGE)
      this.state.addPage(roomId, page, 'newer')
      this.listener.messages(roomId)
      this.listener.rooms()
      return true
    })
  }

  // A window with the message in its middle: the page up to it and the page after it.
  async loadAround (roomId: number, messageId: number): Promise<void> {
    await this.holding(async () => {
      const [before, after] = await Promise.all([
        this.api.page(roomId, { before: messageId + 1 }, PAGE / 2),
        this.api.page(roomId, { after: messageId }, PAGE / 2),
      ])
      this.state.addPage(roomId, { messages: [...before.messages, ...after.messages], _links: { older: before._links.older, newer: after._links.newer } }, 'around')
      this.listener.messages(roomId)
      this.listener.rooms()
    })
  }

  // Moves our marker to the newest loaded message; the server pushes it to our other devices.
  markRead (roomId: number): void {
    const history = this.state.history(roomId)
    if (history === undefined || history.messages.size === 0) return
    const newest = Math.max(...history.messages.keys())
    if (!this.state.markRead(roomId, newest)) return
    this.listener.rooms()
    this.api.markRead(roomId, newest).catch((err: unknown) => {
      if (!(err instanceof ApiError) || err.status >= 500 || err.status === 0) this.listener.error(err)
    })
  }

  private async holding<T> (work: () => Promise<T>): Promise<T> {
    this.loading++
    try {
      return await work()
    } finally {
      this.loading--
      if (this.loading === 0) {
        const frames = this.held
        this.held = []
        frames.forEach((frame) => this.apply(frame))
      }
    }
  }

  // One request of each kind at a time: a scroll firing twice loads one page.
  private async once<T> (key: string, work: () => Promise<T>): Promise<T | false> {
    if (this.pagesInFlight.has(key)) return false
    this.pagesInFlight.add(key)
    try {
      return await this.holding(work)
    } finally {
      this.pagesInFlight.delete(key)
    }
  }
}
