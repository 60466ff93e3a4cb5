import type { Notifications } from '../plugins/notifications'
import type { Db } from './db'
import type { UserRow } from './models'
import { notify } from './queries/notify'

// Revocations and user changes are announced here so every process drops what it cached.
export const AUTH_CHANNEL = 'flack_auth'
export const tokenRevoked = (jti: string): string => `token:${jti}`
export const userTokensRevoked = (userId: number): string => `user:${userId}`
export const userChanged = (userId: number): string => `changed:${userId}`
export const userWentOffline = (userId: number): string => `offline:${userId}`

// Sends an announcement from inside the caller's transaction (delivered on commit).
export const announce = (db: Db, announcement: string): Promise<void> => notify(db, AUTH_CHANNEL, announcement)

interface Entry { userId: number, expiresAt: number }

// Valid tokens, recent presence writes and user rows, kept per process so a steady stream
// of authenticated reads costs no query. Trusted only while the LISTEN connection is up.
export class AuthCache {
  private readonly tokens = new Map<string, Entry>()
  private readonly seen = new Map<number, number>()
  private readonly users = new Map<number, { row: UserRow, at: number }>()
  // Bumped on every user change, so a read that raced a change is not remembered.
  private userEpoch = 0
  // Bumped on every revocation, so a token read that raced one is not remembered.
  private revocations = 0
  private listening = false
  private unsubscribe: () => void = () => {}

  constructor (private readonly ttlMs: number, private readonly maxEntries = 100_000) {}

  start (notifications: Notifications): void {
    this.unsubscribe = notifications.subscribe(AUTH_CHANNEL, {
      onNotification: (payload) => this.forget(payload),
      // Announcements missed while disconnected are unknown: start over.
      onConnect: () => { this.clear(); this.listening = true },
      onError: () => { this.listening = false; this.clear() },
    })
  }

  close (): void {
    this.listening = false
    this.unsubscribe()
  }

  userForToken (jti: string, now = Date.now()): number | null {
    if (!this.listening) return null
    const entry = this.tokens.get(jti)
    if (entry === undefined || entry.expiresAt <= now) return null
    return entry.userId
  }

  get tokenEpoch (): number { return this.revocations }

  // `epoch` as it was before the token's row was read: a revocation since then may be missing from it.
  rememberToken (jti: string, userId: number, expiresAt: number, epoch: number): void {
    if (!this.listening || epoch !== this.revocations) return
    if (this.tokens.size >= this.maxEntries) this.tokens.clear()
    this.tokens.set(jti, { userId, expiresAt: Math.min(expiresAt, Date.now() + this.ttlMs) })
  }

  // Whether this process marked the user online within `withinMs`.
  seenRecently (userId: number, withinMs: number, now = Date.now()): boolean {
    const at = this.seen.get(userId)
    return this.listening && at !== undefined && now - at < withinMs
  }

  rememberSeen (userId: number): void {
    if (!this.listening) return
    if (this.seen.size >= this.maxEntries) this.seen.clear()
    this.seen.set(userId, Date.now())
  }

  // A user row read within `maxAgeMs` and unchanged since (last_seen_at may lag by that much).
  user (userId: number, maxAgeMs: number, now = Date.now()): UserRow | undefined {
    const entry = this.users.get(userId)
    return this.listening && entry !== undefined && now - entry.at < maxAgeMs ? entry.row : undefined
  }

  get epoch (): number { return this.userEpoch }

  // `epoch` as it was before the row was read: a change since then means the row may be old.
  rememberUser (row: UserRow, epoch: number): void {
    if (!this.listening || epoch !== this.userEpoch) return
    if (this.users.size >= this.maxEntries) this.users.clear()
    this.users.set(row.id, { row, at: Date.now() })
  }

  forget (announcement: string): void {
    const [kind, id] = announcement.split(':')
    if (kind === 'token') {
      this.revocations++
      this.tokens.delete(id)
    } else if (kind === 'offline') {
      this.seen.delete(Number(id))
    } else if (kind === 'changed') {
      this.userEpoch++
      this.users.delete(Number(id))
    } else if (kind === 'user') {
      const userId = Number(id)
      this.revocations++
      this.seen.delete(userId)
      for (const [jti, entry] of this.tokens) if (entry.userId === userId) this.tokens.delete(jti)
    }
  }

  private clear (): void {
    this.userEpoch++
    this.revocations++
    this.tokens.clear()
    this.seen.clear()
    this.users.clear()
  }
}
