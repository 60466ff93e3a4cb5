// History and search on 1,000,000 messages in 100 rooms: the newest page and a deep page beside a
// bare Fastify route serving the same bytes, and search for a common and a rare word.
// Run as `history.ts serve <url>` it is the child serving both (off the load's CPU).
import autocannon from 'autocannon'
import Fastify from 'fastify'
import pg from 'pg'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { buildApi } from '../services/api/app'
import { benchDatabase } from './database'
import type { Row } from './api'

const MESSAGES = Number(process.env.BENCH_HISTORY_MESSAGES ?? 1_000_000)
const ROOMS = 100
const RARE_EVERY = 200_000

// Seeds by SQL in one statement; the indexes are built once afterwards, as a restore would.
async function seed (url: string): Promise<{ room: number, deepCursor: number }> {
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  try {
    await db.query("INSERT INTO users (nickname, password_hash) SELECT 'bench' || i, 'x' FROM generate_series(1, 50) AS i")
    await db.query(`INSERT INTO rooms (name, name_key, kind) SELECT 'room' || i, 'room' || i, 'public' FROM generate_series(1, ${ROOMS}) AS i`)
    await db.query('DROP INDEX messages_search_idx')
    await db.query('DROP INDEX messages_room_id_id_idx')
    const started = Date.now()
    await db.query(`INSERT INTO messages (source, html, user_id, room_id)
      SELECT s, s, 1 + i % 50, 2 + i % ${ROOMS} FROM (
        SELECT i, 'message ' || i || ' about the ' || (ARRAY['deploy', 'coffee', 'lunch', 'review', 'release', 'design', 'bug', 'weekend'])[1 + i % 8]
          || ' and the ' || (ARRAY['team', 'plan', 'build', 'meeting', 'demo'])[1 + i % 5] || CASE WHEN i % ${RARE_EVERY} = 7 THEN ' zanzibar' ELSE '' END AS s
        FROM generate_series(1, ${MESSAGES}) AS i) q`)
    await db.query('CREATE INDEX "messages_room_id_id_idx" ON "messages"("room_id", "id")')
    await db.query('CREATE INDEX "messages_search_idx" ON "messages" USING GIN ("search")')
    await db.query('VACUUM ANALYZE messages')
    console.log(`seeded ${MESSAGES} messages in ${ROOMS} rooms in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    const room = 2
    const { rows } = await db.query('SELECT id FROM messages WHERE room_id = $1 ORDER BY id OFFSET 100 LIMIT 1', [room])
    return { room, deepCursor: rows[0].id }
  } finally {
    await db.end()
  }
}

async function serve (url: string): Promise<void> {
  const api = await buildApi({ env: { DATABASE_URL: url, JWT_SECRET: 'bench-secret-bench-secret-bench-secret', LOG_LEVEL: 'warn', NODE_ENV: 'production' } })
  await api.listen({ port: 0, host: '127.0.0.1' })
  // The parent sends the page's bytes once it has fetched them from the api.
  let page = Buffer.alloc(0)
  process.on('message', (message: { page: string }) => {
    page = Buffer.from(message.page, 'base64')
    process.send?.('ready')
  })
  const bare = Fastify()
  bare.get('/page', async (_request, reply) => reply.type('application/json; charset=utf-8').send(page))
  await bare.listen({ port: 0, host: '127.0.0.1' })
  const port = (app: { server: { address: () => unknown } }): number => (app.server.address() as { port: number }).port
  process.send?.({ api: port(api), bare: port(bare) })
}

const load = async (url: string): Promise<autocannon.Result> =>
  autocannon({ url, connections: 50, pipelining: 1, duration: Number(process.env.BENCH_SECONDS ?? 5) })

// One request at a time: latency without queueing behind the other 49 connections.
async function latencies (url: string, n: number): Promise<{ p50: number, p99: number }> {
  const times: number[] = []
  for (let i = 0; i < n; i++) {
    const started = performance.now()
    const res = await fetch(url)
    if (!res.ok) throw new Error(`${url}: ${res.status}`)
    await res.arrayBuffer()
    times.push(performance.now() - started)
  }
  times.sort((a, b) => a - b)
  const at = (q: number): number => Number(times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(2))
  return { p50: at(0.5), p99: at(0.99) }
}

export async function benchHistory (): Promise<Row[]> {
  const db = await benchDatabase('flack_bench_history', 5472)
  const { room, deepCursor } = await seed(db.url)
  const newestUrl = `/api/rooms/${room}/messages`
  const server = fork(__filename, ['serve', db.url], { execArgv: ['--import', 'tsx'], stdio: 'inherit' })
  try {
    const [ports] = await once(server, 'message') as [{ api: number, bare: number }]
    const api = `http://127.0.0.1:${ports.api}`
    const bytes = Buffer.from(await (await fetch(`${api}${newestUrl}`)).arrayBuffer())
    server.send({ page: bytes.toString('base64') })
    await once(server, 'message')
    const pages: Array<[string, string]> = [
      ['bare Fastify, the same bytes', `http://127.0.0.1:${ports.bare}/page`],
      [`newest page (50 of ${MESSAGES / ROOMS})`, `${api}${newestUrl}`],
      ['deep page (before the 101st)', `${api}${newestUrl}?before=${deepCursor}`],
    ]
    const rows: Row[] = []
    let bareRate = 0
    for (const [name, url] of pages) {
      const r = await load(url)
      if (bareRate === 0) bareRate = r.requests.average
      const alone = await latencies(url, 300)
      rows.push({
        what: name,
        'req/s (50 conn)': Math.round(r.requests.average),
        'p50 ms (50 conn)': r.latency.p50,
        'p99 ms (50 conn)': r.latency.p99,
        'p50 ms (alone)': alone.p50,
        'p99 ms (alone)': alone.p99,
        'vs bare': `${Math.round((r.requests.average / bareRate) * 100)}%`,
        errors: r.errors + r.non2xx,
      })
    }
    for (const [name, q] of [['search, common word (1 in 8 messages)', 'deploy'], [`search, rare word (${Math.floor(MESSAGES / RARE_EVERY)} messages)`, 'zanzibar'], ['search, two common words', 'coffee team']]) {
      const alone = await latencies(`${api}/api/search?q=${encodeURIComponent(q)}`, 200)
      rows.push({ what: name, 'p50 ms (alone)': alone.p50, 'p99 ms (alone)': alone.p99 })
    }
    return rows
  } finally {
    server.kill('SIGTERM')
    await once(server, 'exit')
    await db.stop()
  }
}

if (require.main === module) {
  if (process.argv[2] === 'serve') {
    serve(process.argv[3]).catch((err) => { console.error(err); process.exit(1) })
  } else {
    benchHistory().then((rows) => { console.table(rows); process.exit(0) }, (err) => { console.error(err); process.exit(1) })
  }
}
