// API throughput: token-authenticated reads next to a bare Fastify route, same run, same machine.
import autocannon from 'autocannon'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { benchDatabase } from './database'

export type Row = Record<string, string | number>

async function load (url: string, headers: Record<string, string> = {}): Promise<autocannon.Result> {
  return autocannon({ url, headers, connections: 50, pipelining: 1, duration: Number(process.env.BENCH_SECONDS ?? 5) })
}

async function json (url: string, init: RequestInit): Promise<{ id: number, token: string }> {
  const type: Record<string, string> = init.body === undefined ? {} : { 'content-type': 'application/json' }
  const res = await fetch(url, { ...init, headers: { ...type, ...init.headers } })
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`)
  return res.json() as Promise<{ id: number, token: string }>
}

export async function benchApi (): Promise<Row[]> {
  const db = await benchDatabase('flack_bench_api', 5470)
  const server = fork(require.resolve('./api-server.ts'), [db.url], { execArgv: ['--import', 'tsx'], stdio: 'inherit' })
  try {
    const [ports] = await once(server, 'message') as [{ api: number, bare: number }]
    const api = `http://127.0.0.1:${ports.api}`
    let me = { id: 0, token: '' }
    for (let i = 0; i < 50; i++) {
      const user = await json(`${api}/api/users`, { method: 'POST', body: JSON.stringify({ nickname: `bench${i}`, password: 'bench password' }) })
      if (i === 0) me = { id: user.id, token: '' }
    }
    const basic = Buffer.from('bench0:bench password').toString('base64')
    me.token = (await json(`${api}/api/tokens`, { method: 'POST', headers: { authorization: `Basic ${basic}` } })).token
    const auth = { authorization: `Bearer ${me.token}` }

    const bare = await load(`http://127.0.0.1:${ports.bare}/constant`)
    const one = await load(`${api}/api/users/${me.id}`, auth)
    const list = await load(`${api}/api/users`, auth)
    const row = (name: string, r: autocannon.Result): Row => ({
      route: name,
      'req/s': Math.round(r.requests.average),
      'p99 ms': r.latency.p99,
      'vs bare': `${Math.round((r.requests.average / bare.requests.average) * 100)}%`,
      errors: r.errors + r.non2xx,
    })
    return [row('bare Fastify constant', bare), row('GET /api/users/:id (Bearer)', one), row('GET /api/users, 50 users (Bearer)', list)]
  } finally {
    server.kill('SIGTERM')
    await once(server, 'exit')
    await db.stop()
  }
}

if (require.main === module) benchApi().then((rows) => { console.table(rows); process.exit(0) }, (err) => { console.error(err); process.exit(1) })
