// HTTP helpers shared by the sections: autocannon at 50 connections, JSON requests, users seeded by SQL, tokens.
import autocannon from 'autocannon'
import pg from 'pg'
import { hashPassword } from '../lib/passwords'
import { option } from './options'
import { launch, message, tsx, type Launched } from './launch'

export const PASSWORD = 'bench password'

export async function load (url: string, init: { method?: 'GET' | 'POST', headers?: Record<string, string>, body?: string } = {}): Promise<autocannon.Result> {
  const result = await autocannon({ url, ...init, connections: 50, pipelining: 1, duration: option('seconds', 5) })
  return result
}

export async function json<T = Record<string, unknown>> (url: string, init: RequestInit = {}): Promise<T> {
  const type: Record<string, string> = init.body === undefined ? {} : { 'content-type': 'application/json' }
  const res = await fetch(url, { ...init, headers: { ...type, ...init.headers as Record<string, string> } })
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`)
  return (res.status === 204 ? {} : await res.json()) as T
}

// `count` users `<prefix>1`..`<prefix>N` with PASSWORD, inserted in one statement (one scrypt hash shared); their ids in order.
export async function seedUsers (databaseUrl: string, prefix: string, count: number): Promise<number[]> {
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  try {
    const { rows } = await db.query<{ id: number }>(
      "INSERT INTO users (nickname, password_hash) SELECT $1 || i, $2 FROM generate_series(1, $3::int) AS i ORDER BY i RETURNING id",
      [prefix, await hashPassword(PASSWORD), count])
    return rows.map((row) => row.id).sort((a, b) => a - b)
  } finally {
    await db.end()
  }
}

export async function token (api: string, nickname: string): Promise<string> {
  const basic = Buffer.from(`${nickname}:${PASSWORD}`).toString('base64')
  return (await json<{ token: string }>(`${api}/api/tokens`, { method: 'POST', headers: { authorization: `Basic ${basic}` } })).token
}

export interface Bare { proc: Launched, http: string, ws: string, broadcast: string }

// The baseline servers (bench/bare-server.ts) in their own process.
export async function startBare (): Promise<Bare> {
  const proc = launch('bare', tsx('bench/bare-server.ts'), process.env, true)
  return { proc, ...await message<{ http: string, ws: string, broadcast: string }>(proc) }
}

// Stores bytes in the bare Fastify app, to be served at the returned URL.
export async function bareBytes (bare: Bare, name: string, bytes: Buffer): Promise<string> {
  const res = await fetch(`${bare.http}/bytes/${name}`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(bytes) })
  if (res.status !== 204) throw new Error(`bare server: ${res.status}`)
  return `${bare.http}/bytes/${name}`
}
