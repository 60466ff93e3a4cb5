import { messageJson, roomUrl } from '../../lib/models'
import type { TimedRow } from '../../lib/queries/messages'

// Lists never reach further back than this (the original app's rule).
export const HISTORY_SECONDS = 24 * 60 * 60
// The newest page holds at most 100: one more tells whether an older page exists.
export const NEWEST_HELD = 101
const MAX_PAGE_SIZES = 4


interface Entry { id: number, userId: number, micros: number, json: string }

// A body as sent, with its ETag.
export interface Body { bytes: Buffer, etag: string }

const body = (parts: string[], tail: string, version: number): Body =>
  ({ bytes: Buffer.from(`{"messages":[${parts.join(',')}]${tail}}`), etag: `"${version}-${parts.length}"` })

// One room's recent messages in memory: every message updated after `sinceMicros`, and every
// message whose id is at least `idFloor` (0: all of them). Each message is serialised once; the
// bodies built from them are kept until the next change.
export class RoomWindow {
  private readonly entries = new Map<number, Entry>()
  private byUpdate: Entry[] | null = null
  private byId: Entry[] | null = null
  private list: { start: number, body: Body } | null = null
  private readonly pages = new Map<number, Body>()
  bytes = 0

  // version: the room's last applied event (or the stream's position when loaded): part of each ETag.
  constructor (readonly roomId: number, private sinceMicros: number, private idFloor: number, public version: number) {}

  get size (): number { return this.entries.size }

  // Takes the row as it now is; a row outside both parts of the window is dropped.
  put (row: TimedRow): void {
    this.remove(row.id)
    const micros = Number(row.micros)
    if (micros <= this.sinceMicros && row.id < this.idFloor) return
    const entry = { id: row.id, userId: row.userId, micros, json: JSON.stringify(messageJson(row)) }
    this.entries.set(row.id, entry)
    this.bytes += entry.json.length
  }

  remove (id: number): void {
    const old = this.entries.get(id)
    if (old !== undefined) {
      this.entries.delete(id)
      this.bytes -= old.json.length
    }
    this.changed()
  }

  private changed (): void {
    this.byUpdate = null
    this.byId = null
    this.list = null
    this.pages.clear()
  }

  // Flack's list: updated strictly after `oldest` (unix seconds), by updated_at then id; `userId` keeps one user's.
  messagesSince (oldest: number, userId?: number): Body {
    if (this.byUpdate === null) {
      this.forgetOld()
      this.byUpdate = [...this.entries.values()].sort((a, b) => a.micros - b.micros || a.id - b.id)
    }
    const sorted = this.byUpdate
    const cutoff = oldest * 1e6
    let low = 0
    let high = sorted.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (sorted[mid].micros <= cutoff) low = mid + 1
      else high = mid
    }
    if (userId !== undefined) return body(sorted.slice(low).filter((e) => e.userId === userId).map((e) => e.json), '', this.version)
    if (this.list?.start !== low) this.list = { start: low, body: body(sorted.slice(low).map((e) => e.json), '', this.version) }
    return this.list.body
  }

  // A room's newest page of `limit` (at most NEWEST_HELD - 1) messages by id, with its older link.
  newestPage (limit: number): Body {
    let page = this.pages.get(limit)
    if (page === undefined) {
      this.byId ??= [...this.entries.values()].sort((a, b) => a.id - b.id)
      const parts = this.byId.slice(-limit)
      const older = this.idFloor > 0 || this.byId.length > limit
        ? `,"_links":{"older":"${roomUrl(this.roomId)}/messages?before=${parts[0].id}&limit=${limit}"}`
        : ',"_links":{}'
      // A few page sizes are in use at a time; more would hold many copies of the same messages.
      if (this.pages.size >= MAX_PAGE_SIZES) this.pages.clear()
      this.pages.set(limit, page = body(parts.map((e) => e.json), older, this.version))
    }
    return page
  }

  // Keeps memory to the window: messages out of the last 24 hours and older than the newest page go, in bulk.
  private forgetOld (): void {
    if (this.entries.size < 2 * NEWEST_HELD) return
    const since = Math.max(this.sinceMicros, (Math.floor(Date.now() / 1000) - HISTORY_SECONDS) * 1e6)
    const byId = [...this.entries.values()].sort((a, b) => a.id - b.id)
    const floor = byId[byId.length - NEWEST_HELD].id
    const gone = byId.filter((e) => e.id < floor && e.micros <= since)
    if (gone.length < NEWEST_HELD) return
    this.sinceMicros = since
    this.idFloor = floor
    for (const e of gone) this.remove(e.id)
  }
}
