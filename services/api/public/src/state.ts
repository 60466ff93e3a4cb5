// What the signed-in page knows: users, rooms, loaded history, unread counts and typing.
// No DOM here, so it runs (and is unit-tested) in Node as well.
import type { Membership, Message, MessagePage, Room, User } from './types'

export const GENERAL_ROOM = 1
export const MAX_UNREAD = 999
// Messages of one author this close together share one name and time.
export const GROUP_SECONDS = 5 * 60
export const TYPING_MS = 5000

export interface History {
  // Shown messages by id; tombstones are dropped, so a deleted message disappears.
  messages: Map<number, Message>
  // Newest version seen per id, tombstones included, so an older copy never comes back.
  versions: Map<number, number>
  hasOlder: boolean
  // The loaded window ends before the room's newest message (opened from a search result).
  hasNewer: boolean
}

export type MessageChange = 'added' | 'updated' | 'removed' | 'ignored'

const newer = (known: number | undefined, incoming: number): boolean => known === undefined || incoming >= known

export class ChatState {
  readonly users = new Map<number, User>()
  readonly rooms = new Map<number, Room>()
  readonly histories = new Map<number, History>()
  // The other member of each direct room (the user themself for a room of one).
  readonly directPeers = new Map<number, number>()
  private readonly typing = new Map<number, Map<number, number>>()

  constructor (readonly me: number) {}

  // ---- Users

  applyUser (user: User): boolean {
    const known = this.users.get(user.id)
    if (known !== undefined && known.updated_at > user.updated_at) return false
    this.users.set(user.id, user)
    return true
  }

  setUsers (list: User[]): void {
    const keep = new Set(list.map((u) => u.id))
    for (const id of [...this.users.keys()]) if (!keep.has(id) && id !== this.me) this.users.delete(id)
    for (const user of list) this.applyUser(user)
  }

  nickname (userId: number): string { return this.users.get(userId)?.nickname ?? `user ${userId}` }

  // ---- Rooms

  setRooms (list: Room[]): void {
    const keep = new Set(list.map((r) => r.id))
    for (const id of [...this.rooms.keys()]) if (!keep.has(id)) this.forgetRoom(id)
    for (const room of list) this.rooms.set(room.id, room)
  }

  // A REST answer carries our place in the room; a pushed Room frame does not, so keep ours.
  applyRoom (room: Room): 'added' | 'updated' | 'ignored' {
    const known = this.rooms.get(room.id)
    if (known !== undefined && known.updated_at > room.updated_at) return 'ignored'
    const viewer = room.member === undefined && known !== undefined
      ? { member: known.member, role: known.role, last_read_id: known.last_read_id, unread: known.unread }
      : {}
    this.rooms.set(room.id, { ...room, ...viewer })
    return known === undefined ? 'added' : 'updated'
  }

  forgetRoom (roomId: number): void {
    this.rooms.delete(roomId)
    this.histories.delete(roomId)
    this.directPeers.delete(roomId)
    this.typing.delete(roomId)
  }

  // Returns whether the room must be fetched again (its counts or our place in it changed).
  applyMembership (membership: Membership): 'refetch' | 'removed' | 'updated' {
    const room = this.rooms.get(membership.room_id)
    if (membership.user_id !== this.me || room === undefined) return 'refetch'
    if (membership.role === null) {
      if (room.kind !== 'public') {
        this.forgetRoom(room.id)
        return 'removed'
      }
      this.rooms.set(room.id, { ...room, member: false, role: null, last_read_id: null, unread: null })
      return 'refetch'
    }
    if (room.member !== true) return 'refetch'
    this.rooms.set(room.id, { ...room, role: membership.role })
    if (membership.last_read_id !== null) this.markRead(room.id, membership.last_read_id)
    return 'updated'
  }

  // Moves our read marker forward only, as the server does.
  markRead (roomId: number, messageId: number): boolean {
    const room = this.rooms.get(roomId)
    if (room === undefined || room.member !== true || (room.last_read_id ?? 0) >= messageId) return false
    const unread = this.countsExactly(roomId, messageId) ? this.countAfter(roomId, messageId) : room.unread
    this.rooms.set(roomId, { ...room, last_read_id: messageId, unread })
    return true
  }

  displayName (room: Room): string {
    if (room.name !== null) return room.name
    const peer = this.directPeers.get(room.id)
    if (peer === undefined) return 'Direct message'
    return peer === this.me ? `${this.nickname(peer)} (you)` : this.nickname(peer)
  }

  // Rooms we are in (general first, then by name), direct rooms, and public rooms to join.
  sidebar (): { rooms: Room[], direct: Room[], other: Room[] } {
    const byName = (a: Room, b: Room): number =>
      Number(b.id === GENERAL_ROOM) - Number(a.id === GENERAL_ROOM) || this.displayName(a).localeCompare(this.displayName(b))
    const all = [...this.rooms.values()].sort(byName)
    return {
      rooms: all.filter((r) => r.kind !== 'direct' && r.member === true),
      direct: all.filter((r) => r.kind === 'direct'),
      other: all.filter((r) => r.kind === 'public' && r.member !== true),
    }
  }

  unread (roomId: number): number {
    const room = this.rooms.get(roomId)
    if (room === undefined || room.member !== true) return 0
    const marker = room.last_read_id ?? 0
    if (this.countsExactly(roomId, marker)) return this.countAfter(roomId, marker)
    return room.unread ?? 0
  }

  totalUnread (): number {
    let total = 0
    for (const room of this.rooms.values()) total += this.unread(room.id)
    return total
  }

  // The loaded history holds every message after the marker: count them here, no request needed.
  private countsExactly (roomId: number, marker: number): boolean {
    const history = this.histories.get(roomId)
    if (history === undefined || history.hasNewer) return false
    if (!history.hasOlder) return true
    const oldest = Math.min(...history.messages.keys())
    return Number.isFinite(oldest) && oldest <= marker + 1
  }

  private countAfter (roomId: number, marker: number): number {
    let count = 0
    for (const message of this.histories.get(roomId)?.messages.values() ?? []) {
      if (message.id > marker && message.user_id !== this.me) count++
    }
    return Math.min(count, MAX_UNREAD)
  }

  // ---- Messages

  history (roomId: number): History | undefined { return this.histories.get(roomId) }

  // Replaces (`newest` or `around`) or extends (`older`, `newer`) a room's loaded window.
  addPage (roomId: number, page: MessagePage, kind: 'newest' | 'around' | 'older' | 'newer'): void {
    let history = this.histories.get(roomId)
    if (history === undefined || kind === 'newest' || kind === 'around') {
      history = { messages: new Map(), versions: history?.versions ?? new Map(), hasOlder: false, hasNewer: false }
      this.histories.set(roomId, history)
    }
    if (kind !== 'newer') history.hasOlder = page._links.older !== undefined
    if (kind === 'newest') history.hasNewer = false
    else if (kind !== 'older') history.hasNewer = page._links.newer !== undefined
    for (const message of page.messages) this.putMessage(history, message)
  }

  // A pushed message: applied to the room's loaded window, if any and if it belongs there.
  applyMessage (message: Message): MessageChange {
    const history = this.histories.get(message.room_id)
    if (history === undefined) return 'ignored'
    const newest = Math.max(0, ...history.messages.keys())
    // Past the end of a window opened from search: paging down brings it in order.
    if (history.hasNewer && message.id > newest && !history.messages.has(message.id)) return 'ignored'
    const change = this.putMessage(history, message)
    if (change === 'added') this.stopTyping(message.room_id, message.user_id)
    return change
  }

  private putMessage (history: History, message: Message): MessageChange {
    if (!newer(history.versions.get(message.id), message.updated_at)) return 'ignored'
    history.versions.set(message.id, message.updated_at)
    const known = history.messages.has(message.id)
    if (message.deleted) {
      history.messages.delete(message.id)
      return known ? 'removed' : 'ignored'
    }
    history.messages.set(message.id, message)
    return known ? 'updated' : 'added'
  }

  sortedMessages (roomId: number): Message[] {
    return [...this.histories.get(roomId)?.messages.values() ?? []].sort((a, b) => a.id - b.id)
  }

  lastOwnMessage (roomId: number): Message | undefined {
    return this.sortedMessages(roomId).filter((m) => m.user_id === this.me).at(-1)
  }

  // The author may delete; so may the room's owner.
  mayDelete (message: Message): boolean {
    return message.user_id === this.me || this.rooms.get(message.room_id)?.role === 'owner'
  }

  // ---- Typing

  startTyping (roomId: number, userId: number, now: number): void {
    if (userId === this.me) return
    let room = this.typing.get(roomId)
    if (room === undefined) this.typing.set(roomId, room = new Map())
    room.set(userId, now + TYPING_MS)
  }

  stopTyping (roomId: number, userId: number): void { this.typing.get(roomId)?.delete(userId) }

  typers (roomId: number, now: number): string[] {
    const room = this.typing.get(roomId)
    if (room === undefined) return []
    for (const [userId, until] of room) if (until <= now) room.delete(userId)
    return [...room.keys()].map((id) => this.nickname(id)).sort()
  }
}

export function typingText (names: string[]): string {
  if (names.length === 0) return ''
  if (names.length === 1) return `${names[0]} is typing…`
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`
  return 'Several people are typing…'
}

export function titleText (unread: number, roomName: string | null): string {
  const count = unread > 0 ? `(${unread > MAX_UNREAD ? `${MAX_UNREAD}+` : unread}) ` : ''
  return `${count}${roomName === null ? '' : `${roomName} · `}Flack`
}

export type Entry =
  | { type: 'day', key: string, time: number }
  | { type: 'message', key: string, message: Message, grouped: boolean }

const localDay = (seconds: number): string => new Date(seconds * 1000).toDateString()

// The list as shown: a separator before each new day; a message right after one by the same
// author, the same day and within GROUP_SECONDS goes under that one's name and time.
export function layout (messages: Message[], dayOf: (seconds: number) => string = localDay): Entry[] {
  const entries: Entry[] = []
  let previous: Message | undefined
  let day = ''
  for (const message of messages) {
    const thisDay = dayOf(message.created_at)
    if (thisDay !== day) {
      entries.push({ type: 'day', key: `day-${thisDay}`, time: message.created_at })
      day = thisDay
      previous = undefined
    }
    const grouped = previous !== undefined && previous.user_id === message.user_id &&
      message.created_at - previous.created_at <= GROUP_SECONDS && message.created_at >= previous.created_at
    entries.push({ type: 'message', key: `m-${message.id}`, message, grouped })
    previous = message
  }
  return entries
}

// The server's validator text, as a person would say it.
export function humanError (message: string): string {
  const text = message.replace(/^Invalid request:\s*/, '').replace(/^body\/?/, '')
  if (text === message) return message
  const sentence = text
    .replace(/^source\b/, 'The message')
    .replace(/^nickname\b/, 'The nickname')
    .replace(/^password\b/, 'The password')
    .replace(/^name\b/, 'The name')
    .replace(/^topic\b/, 'The topic')
    .replace(/must NOT have more than (\d+) characters/, 'must be at most $1 characters')
    .replace(/must NOT have fewer than (\d+) characters/, 'must be at least $1 characters')
    .replace(/must NOT/g, 'must not')
  return /[.!?]$/.test(sentence) ? sentence : `${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}.`
}
