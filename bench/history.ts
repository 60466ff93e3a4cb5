// Issue 13: history and search on 1,000,000 messages in 100 rooms, seeded by SQL. The newest page
// and a deep page beside a bare Fastify route serving the same bytes (autocannon, 50 connections),
// each also alone (one request at a time); search for a common word, two common words and a rare word.
import pg from 'pg'
import { benchDatabase } from './database'
import { bareBytes, load, startBare } from './http'
import { shapes, startSystem, stop } from './launch'
import { option } from './options'
import { ms, pair, perSecond, summarize, type Summary } from './stats'
import { beside, printTable, type Row } from './table'

const MESSAGES = option('history-messages', 1_000_000)
const ROOMS = 100
const RARE_EVERY = 200_000
const ALONE = option('alone', 300)

// Seeds by SQL in one statement; the indexes are built once afterwards, as a restore would.
async function seed (url: string): Promise<{ room: number, deepCursor: number, seconds: number, insertSeconds: number }> {
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  try {
    const started = Date.now()
    await db.query("INSERT INTO users (nickname, password_hash) SELECT 'bench' || i, 'x' FROM generate_series(1, 50) AS i")
    await db.query(`INSERT INTO rooms (name, name_key, kind) SELECT 'room' || i, 'room' || i, 'public' FROM generate_series(1, ${ROOMS}) AS i`)
    await db.query('DROP INDEX messages_search_idx')
    await db.query('DROP INDEX messages_room_id_id_idx')
    await db.query(`INSERT INTO messages (source, html, user_id, room_id)
      SELECT s, s, 1 + i % 50, 2 + i % ${ROOMS} FROM (
        SELECT i, 'message ' || i || ' about the ' || (ARRAY['deploy', 'coffee', 'lunch', 'review', 'release', 'design', 'bug', 'weekend'])[1 + i % 8]
          || ' and the ' || (ARRAY['team', 'plan', 'build', 'meeting', 'demo'])[1 + i % 5] || CASE WHEN i % ${RARE_EVERY} = 7 THEN ' zanzibar' ELSE '' END AS s
        FROM generate_series(1, ${MESSAGES}) AS i) q`)
    const insertSeconds = (Date.now() - started) / 1000
    await db.query('CREATE INDEX "messages_room_id_id_idx" ON "messages"("room_id", "id")')
    await db.query('CREATE INDEX "messages_search_idx" ON "messages" USING GIN ("search")')
    await db.query('VACUUM ANALYZE messages')
    const seconds = (Date.now() - started) / 1000
    const room = 2
    const { rows } = await db.query('SELECT id FROM messages WHERE room_id = $1 ORDER BY id OFFSET 100 LIMIT 1', [room])
    return { room, deepCursor: rows[0].id, seconds, insertSeconds }
  } finally {
    await db.end()
  }
}

// One request at a time: latency without queueing behind 49 other connections.
async function alone (url: string, n: number): Promise<Summary> {
  const times: number[] = []
  for (let i = 0; i < n; i++) {
    const started = performance.now()
    const res = await fetch(url)
    if (!res.ok) throw new Error(`${url}: ${res.status}`)
    await res.arrayBuffer()
    times.push(performance.now() - started)
  }
  return summarize(times)
}

export async function benchHistory (): Promise<Row[]> {
  const db = await benchDatabase('flack_bench_history', 5472)
  const { room, deepCursor, seconds, insertSeconds } = await seed(db.url)
  const rows: Row[] = [{ figure: `seeded ${MESSAGES.toLocaleString('en-US')} messages in ${ROOMS} rooms by SQL (rows, then indexes and VACUUM ANALYZE)`, product: `${insertSeconds.toFixed(1)} s + ${(seconds - insertSeconds).toFixed(1)} s` }]
  try {
    for (const shape of shapes('procfile')) {
      const bare = await startBare()
      const system = await startSystem(shape, db.url)
      try {
        const newest = `/api/rooms/${room}/messages`
        const pages: Array<[string, string]> = [[`newest page (50 of ${MESSAGES / ROOMS})`, newest], ['deep page (before the 101st)', `${newest}?before=${deepCursor}`]]
        for (const [name, path] of pages) {
          const bytes = Buffer.from(await (await fetch(`${system.api}${path}`)).arrayBuffer())
          const bareUrl = await bareBytes(bare, name.replace(/\W+/g, '-'), bytes)
          const [baseline, product] = [await load(bareUrl), await load(`${system.api}${path}`)]
          const [baseAlone, productAlone] = [await alone(bareUrl, ALONE), await alone(`${system.api}${path}`, ALONE)]
          const label = `[${shape}] ${name}, ${(bytes.length / 1024).toFixed(1)} KB (baseline: bare Fastify, same bytes)`
          rows.push(
            beside(`${label}, 50 connections`, product.requests.average, baseline.requests.average, perSecond),
            { ...beside(`${label}, 50 connections, p50 / p99`, product.latency.p99, baseline.latency.p99, ms), product: `${product.latency.p50} / ${product.latency.p99} ms`, baseline: `${baseline.latency.p50} / ${baseline.latency.p99} ms` },
            { ...beside(`${label}, alone, p50 / p99`, productAlone.p99, baseAlone.p99, ms, 'p99 ≤ 10 ms', productAlone.p99 <= 10), product: pair(productAlone), baseline: pair(baseAlone) },
          )
          if (product.non2xx + product.errors > 0) rows.push({ figure: `[${shape}] ${name}: errors`, product: product.non2xx + product.errors })
        }
        const searches = [['common word (1 in 8 messages)', 'deploy'], ['two common words', 'coffee team'], [`rare word (${Math.floor((MESSAGES - 7) / RARE_EVERY) + 1} messages)`, 'zanzibar']]
        for (const [name, q] of searches) {
          const s = await alone(`${system.api}/api/search?q=${encodeURIComponent(q)}`, Math.ceil(ALONE * 2 / 3))
          rows.push({ ...beside(`[${shape}] search, ${name}: "${q}", alone, p50 / p99`, s.p99, null, ms, 'p99 ≤ 50 ms', s.p99 <= 50), product: pair(s) })
        }
      } finally {
        await system.stop()
        await stop(bare.proc)
      }
    }
  } finally {
    await db.stop()
  }
  return rows
}

if (require.main === module) benchHistory().then((rows) => { printTable(rows); process.exit(0) }, (err) => { console.error(err); process.exit(1) })
