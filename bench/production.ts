// Issue 14, measured from outside in production shape (the Procfile's api, worker and push from
// dist/) and in `npm start`'s single process, each beside its baseline in the same run: RSS of
// each process at rest, the message lists and a token read beside a bare Fastify route serving
// the same bytes, posts per second end to end (stored and pushed), and fan-out beside bare `ws`.
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { benchDatabase } from './database'
import { fanoutTo } from './fanout'
import { FrameReader } from './frame-reader'
import { bareBytes, load, seedUsers, startBare, token, type Bare } from './http'
import { childrenRssBytes, launch, procfileFlags, rssBytes, serviceEnv, shapes, sleep, startSystem, stop, type System } from './launch'
import { LoadClient } from './load-client'
import { option } from './options'
import { mib, ms, perSecond } from './stats'
import { beside, printTable, type Row } from './table'

const SOCKETS = option('sockets', 10_000)
const ROUNDS = option('rounds', 20)
const LISTED = 200
const REST_MS = 10_000

// Messages in general, by SQL: sources of a few lines of Markdown, rendered, about as long as real ones.
async function seedMessages (databaseUrl: string, userId: number): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  try {
    await db.query(`INSERT INTO messages (source, html, user_id, room_id)
      SELECT 'message ' || i || ': the *deploy* of the new build is done, see https://example.com/builds/' || i || ' and tell me what breaks',
             '<p>message ' || i || ': the <em>deploy</em> of the new build is done, see <a href="https://example.com/builds/' || i || '" rel="nofollow">https://example.com/builds/' || i || '</a> and tell me what breaks</p>',
             $1, 1 FROM generate_series(1, $2::int) AS i`, [userId, LISTED])
  } finally {
    await db.end()
  }
}

// The baseline for memory at rest: a bare Fastify app with one route, with the node flags of the shape's processes.
const BARE_FASTIFY = "require('fastify')().get('/', async () => ({ hello: 'world' })).listen({ port: 0, host: '127.0.0.1' })"

async function restingRss (system: System): Promise<Row[]> {
  const bare = launch('bare Fastify', [...(system.shape === 'procfile' ? procfileFlags('api') : []), '-e', BARE_FASTIFY], serviceEnv(''))
  try {
    const wait = Math.max(bare.startedAt, ...system.processes.map((proc) => proc.startedAt)) + REST_MS - Date.now()
    if (wait > 0) await sleep(wait)
    const baseline = rssBytes(bare.pid)
    return system.processes.map((proc) => {
      const own = rssBytes(proc.pid)
      const kids = childrenRssBytes(proc.pid)
      return beside(`[${system.shape}] RSS at rest (10 s after start): ${proc.name}${kids > 0 ? ` (+ ${mib(kids)} child processes)` : ''} (baseline: bare Fastify, one route)`, own, baseline, mib, '≤ 80 MiB', own <= 80 * 1048576)
    })
  } finally {
    await stop(bare)
  }
}

async function reads (system: System, bare: Bare, auth: Record<string, string>, userId: number): Promise<Row[]> {
  const rows: Row[] = []
  for (const [name, path] of [['Flack list GET /api/messages', '/api/messages'], ['room newest page GET /api/rooms/1/messages', '/api/rooms/1/messages']]) {
    const bytes = Buffer.from(await (await fetch(`${system.api}${path}`)).arrayBuffer())
    const baseline = await load(await bareBytes(bare, name.replace(/\W+/g, '-'), bytes))
    const product = await load(`${system.api}${path}`)
    const ratio = product.requests.average / baseline.requests.average
    rows.push(beside(`[${system.shape}] ${name}, ${(bytes.length / 1024).toFixed(1)} KB (baseline: bare Fastify, same bytes)`, product.requests.average, baseline.requests.average, perSecond, 'ratio ≥ 0.60', ratio >= 0.6))
    if (product.non2xx + product.errors > 0) rows.push({ figure: `[${system.shape}] ${name}: errors`, product: product.non2xx + product.errors })
  }
  const baseline = await load(`${bare.http}/constant`)
  const product = await load(`${system.api}/api/users/${userId}`, { headers: auth })
  const ratio = product.requests.average / baseline.requests.average
  rows.push(beside(`[${system.shape}] GET /api/users/:id with a token (baseline: bare Fastify, 17 B)`, product.requests.average, baseline.requests.average, perSecond, 'ratio ≥ 0.30', ratio >= 0.3))
  return rows
}

// POST /api/messages (202) from 50 connections for --seconds; one socket counts what arrives. The
// rate is arrivals over the time from the first POST to the last arrival.
async function posts (system: System, bare: Bare, databaseUrl: string, auth: Record<string, string>): Promise<Row[]> {
  const source = 'bench post e2e'
  const marker = Buffer.from(`"${source}"`)
  let pushed = 0
  let lastAt = 0
  const listener = await FrameReader.connect(system.ws, (data, at) => { if (data.indexOf(marker) !== -1) { pushed++; lastAt = at } })
  const request = { method: 'POST' as const, headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ source }) }
  const baseline = await load(`${bare.http}/accept`, request)
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  const count = async (sql: string, values: string[] = []): Promise<number> => Number((await db.query<{ n: string }>(sql, values)).rows[0].n)
  const started = performance.now()
  const product = await load(`${system.api}/api/messages`, request)
  // Accepted: every task queued, also by requests still in flight when the load stopped.
  await sleep(1000)
  const accepted = await count("SELECT count(*) AS n FROM tasks WHERE kind = 'post_message'")
  // Drained when every accepted post has arrived, or nothing more arrives for 10 s.
  for (let seen = -1; pushed < accepted && pushed !== seen;) {
    seen = pushed
    for (let i = 0; i < 100 && pushed < accepted; i++) await sleep(100)
  }
  await listener.close()
  const stored = await count('SELECT count(*) AS n FROM messages WHERE source = $1', [source])
  await db.end()
  const rate = pushed / ((lastAt - started) / 1000)
  return [
    beside(`[${system.shape}] POST /api/messages accepted (202) (baseline: bare Fastify 202)`, product.requests.average, baseline.requests.average, perSecond),
    beside(`[${system.shape}] posts end to end, stored and pushed to a socket`, rate, null, perSecond, '≥ 2,000/s', rate >= 2000),
    { figure: `[${system.shape}] posts accepted / stored / pushed`, product: `${accepted} / ${stored} / ${pushed}`, goal: 'all equal', ok: accepted === stored && stored === pushed ? 'yes' : 'NO' },
  ]
}

async function fanout (system: System, bare: Bare, databaseUrl: string): Promise<Row[]> {
  const client = await LoadClient.start(databaseUrl)
  try {
    const warm = Math.min(200, SOCKETS / 2)
    const product = await fanoutTo(client, { ws: system.ws, pid: system.push.pid }, warm, SOCKETS, ROUNDS)
    await client.run({ cmd: 'trim', count: 0 })
    const baseline = await fanoutTo(client, { ws: bare.ws, pid: bare.proc.pid, broadcast: bare.broadcast }, warm, SOCKETS, ROUNDS)
    await client.run({ cmd: 'trim', count: 0 })
    const kb = (bytes: number): string => `${(bytes / 1024).toFixed(2)} KB`
    return [
      beside(`[${system.shape}] fan-out to ${SOCKETS} sockets, last socket p50 (baseline: bare ws)`, product.last.p50, baseline.last.p50, ms),
      beside(`[${system.shape}] fan-out to ${SOCKETS} sockets, last socket p99 (baseline: bare ws)`, product.last.p99, baseline.last.p99, ms, '≤ 100 ms', product.last.p99 <= 100),
      beside(`[${system.shape}] RSS per idle socket (baseline: bare ws)`, product.perSocketBytes, baseline.perSocketBytes, kb, '≤ 8 KB', product.perSocketBytes <= 8192),
    ]
  } finally {
    await client.stop()
  }
}

export async function benchProduction (): Promise<Row[]> {
  const rows: Row[] = []
  for (const shape of shapes('both')) {
    // A fresh baseline each time: RSS per socket of a process that held sockets before means little.
    const bare = await startBare()
    try {
      const db = await benchDatabase('flack_bench_production', 5465)
      const [userId] = await seedUsers(db.url, 'bench', 1)
      await seedMessages(db.url, userId)
      const system = await startSystem(shape, db.url)
      try {
        rows.push(...await restingRss(system))
        const auth = { authorization: `Bearer ${await token(system.api, 'bench1')}` }
        rows.push(...await reads(system, bare, auth, userId))
        rows.push(...await posts(system, bare, db.url, auth))
        rows.push(...await fanout(system, bare, db.url))
      } finally {
        await system.stop()
        await db.stop()
      }
    } finally {
      await stop(bare.proc)
    }
  }
  return rows
}

if (require.main === module) benchProduction().then((rows) => { printTable(rows); process.exit(0) }, (err) => { console.error(err); process.exit(1) })
