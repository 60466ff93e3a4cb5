import type { Db } from '../db'

// The tokens table: one row per issued JWT (its jti), so each can be revoked on its own.

export async function insertToken (db: Db, id: string, userId: number, expiresAt: Date): Promise<void> {
  await db.query({ name: 'tokens-insert', text: 'INSERT INTO tokens (id, user_id, expires_at) VALUES ($1, $2, $3)', values: [id, userId, expiresAt] })
}

// The expiry (ms since the epoch) of a token that is the user's, unrevoked and unexpired; else null.
export async function liveTokenExpiry (db: Db, id: string, userId: number): Promise<number | null> {
  const { rows } = await db.query<{ expiresAt: string }>({
    name: 'live-token',
    text: `SELECT extract(epoch FROM expires_at) * 1000 AS "expiresAt" FROM tokens
           WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()`,
    values: [id, userId],
  })
  return rows.length === 0 ? null : Number(rows[0].expiresAt)
}

export async function revokeToken (db: Db, id: string): Promise<void> {
  await db.query({ name: 'tokens-revoke', text: 'UPDATE tokens SET revoked_at = now() WHERE id = $1', values: [id] })
}

export async function revokeUserTokens (db: Db, userId: number): Promise<void> {
  await db.query({ name: 'tokens-revoke-user', text: 'UPDATE tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', values: [userId] })
}

// Which of these tokens are unrevoked and unexpired (the push checks its sockets' views with it).
export async function liveTokens (db: Db, ids: string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>({
    name: 'tokens-live-among',
    text: 'SELECT id::text AS id FROM tokens WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL AND expires_at > now()',
    values: [ids],
  })
  return new Set(rows.map((row) => row.id))
}
