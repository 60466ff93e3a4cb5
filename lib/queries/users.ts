import { UNIQUE_VIOLATION, hasCode, type Db } from '../db'
import { USER_COLUMNS, type UserRow } from '../models'

// The users table. Only USER_COLUMNS ever leave: password hashes stay with credentialsFor.

// A second user with the nickname (users_nickname_key is the table's one unique key besides id).
export const isNicknameTaken = (err: unknown): boolean => hasCode(err, UNIQUE_VIOLATION)

export async function insertUser (db: Db, nickname: string, passwordHash: string): Promise<UserRow> {
  const { rows } = await db.query<UserRow>({
    name: 'users-insert',
    text: `INSERT INTO users (nickname, password_hash) VALUES ($1, $2) RETURNING ${USER_COLUMNS}`,
    values: [nickname, passwordHash],
  })
  return rows[0]
}

export interface UserFilter { online?: boolean, updatedSince?: number }

// Least recently updated first, then by nickname.
export async function listUsers (db: Db, filter: UserFilter): Promise<UserRow[]> {
  const { rows } = await db.query<UserRow>({
    name: 'users-list',
    text: `SELECT ${USER_COLUMNS} FROM users
           WHERE ($1::boolean IS NULL OR online = $1) AND ($2::float8 IS NULL OR updated_at > to_timestamp($2))
           ORDER BY updated_at, nickname`,
    values: [filter.online ?? null, filter.updatedSince ?? null],
  })
  return rows
}

export async function userById (db: Db, id: number): Promise<UserRow | null> {
  const { rows } = await db.query<UserRow>({ name: 'user-by-id', text: `SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, values: [id] })
  return rows[0] ?? null
}

export async function userExists (db: Db, id: number): Promise<boolean> {
  const { rowCount } = await db.query({ name: 'users-exists', text: 'SELECT 1 FROM users WHERE id = $1', values: [id] })
  return (rowCount ?? 0) > 0
}

// Changes what is given (undefined: kept); null when no such user. Throws a unique violation for a taken nickname.
export async function updateUser (db: Db, id: number, change: { nickname?: string, passwordHash?: string }): Promise<UserRow | null> {
  const { rows } = await db.query<UserRow>({
    name: 'users-update',
    text: `UPDATE users SET nickname = COALESCE($2, nickname), password_hash = COALESCE($3, password_hash), updated_at = now()
           WHERE id = $1 RETURNING ${USER_COLUMNS}`,
    values: [id, change.nickname ?? null, change.passwordHash ?? null],
  })
  return rows[0] ?? null
}

// What a sign-in checks the password against.
export async function credentialsFor (db: Db, nickname: string): Promise<{ id: number, passwordHash: string } | null> {
  const { rows } = await db.query<{ id: number, passwordHash: string }>({
    name: 'users-credentials',
    text: 'SELECT id, password_hash AS "passwordHash" FROM users WHERE nickname = $1',
    values: [nickname],
  })
  return rows[0] ?? null
}

// A request's presence refresh: 'offline' when a flip is due; 'busy' when another transaction holds
// the user's row (a change waiting to commit), which is skipped rather than waited for.
export type Touch = 'touched' | 'offline' | 'busy'
const TOUCH_ONLINE_USER = {
  name: 'user-seen',
  text: `WITH locked AS (SELECT id, online FROM users WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED),
              touched AS (UPDATE users u SET last_seen_at = now() FROM locked WHERE u.id = locked.id AND locked.online RETURNING u.id)
         SELECT EXISTS (SELECT 1 FROM touched) AS touched, EXISTS (SELECT 1 FROM locked) AS locked`,
}

export async function touchOnlineUser (db: Db, id: number): Promise<Touch> {
  const { rows: [row] } = await db.query<{ touched: boolean, locked: boolean }>({ ...TOUCH_ONLINE_USER, values: [id] })
  return row.touched ? 'touched' : row.locked ? 'offline' : 'busy'
}
