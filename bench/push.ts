// Push benchmarks, the push server and its load client each in their own process: (a)
// post-to-delivery latency at 200 messages/s with 1,000 sockets: post_message frames, the worker's
// job, the event, the fan-out; (b) a reconnect storm replaying with `since` beside the same storm
// connecting plainly. Idle sockets and fan-out to 10,000: bench/fanout.ts, in rooms and production.
import { freePort, waitForPort } from '../test/support/net'
import { benchDatabase } from './database'
import { buildApi } from '../services/api/app'
import { buildWorker } from '../services/worker/app'
import { cpuSeconds, launch, sleep, stop, tsx } from './launch'
import { LoadClient } from './load-client'
import { option } from './options'
import type { StormResult } from './push-client'
import { ms, percentile } from './stats'
import { printTable, type Row } from './table'

const PORT = 5463
const RATE = 200
const RATE_SOCKETS = option('stream-sockets', 1000)
const RATE_SECONDS = option('stream-seconds', 10)
// Posted at the same rate before the timed seconds, untimed (connections, caches, JIT).
const RATE_WARMUP_SECONDS = 1
const STORM_SOCKETS = option('storm-sockets', 3000)
const env = (url: string, port: number): Record<string, string> => ({
  ...process.env as Record<string, string>,
  DATABASE_URL: url,
  JWT_SECRET: 'bench-secret-bench-secret-bench-secret',
  LOG_LEVEL: 'warn',
  NODE_ENV: 'production',
  PUSH_PORT: String(port),
  API_PORT: '0',
  // Twenty posters at ten frames a second each stay within the default per-connection rate.
  PUSH_FRAMES_PER_SECOND: '20',
  // Every bench socket comes from 127.0.0.1.
  PUSH_MAX_SOCKETS_PER_ADDRESS: String(RATE_SOCKETS + STORM_SOCKETS + 100),
})

// A user and token through the api, in this process (it never listens).
async function benchToken (url: string): Promise<string> {
  const api = await buildApi({ env: env(url, 0) })
  try {
    const nickname = 'pushbench'
    await api.inject({ method: 'POST', url: '/api/users', payload: { nickname, password: 'bench-password' } })
    const res = await api.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: `Basic ${Buffer.from(`${nickname}:bench-password`).toString('base64')}` } })
    return res.json().token as string
  } finally {
    await api.close()
  }
}

export async function benchPush (): Promise<Row[]> {
  const db = await benchDatabase('flack_bench_push', PORT)
  const port = await freePort()
  const url = `ws://127.0.0.1:${port}/ws`
  const server = launch('push', tsx('services/push/server.ts'), env(db.url, port))
  let client: LoadClient | null = null
  const worker = buildWorker({ env: env(db.url, port) })
  try {
    await waitForPort(port, 30000)
    const token = await benchToken(db.url)
    await worker.start()
    client = await LoadClient.start(db.url)

    // (a) a steady stream to 1,000 sockets (idle sockets and fan-out to 10,000: the rooms and production sections).
    await client.run({ cmd: 'open', url, count: RATE_SOCKETS })
    await sleep(1000)
    const cpu = [server.pid, client.pid, process.pid].map(cpuSeconds)
    const posted = await client.run<{ latencies: number[], first: number[], expected: number, sent: number }>({ cmd: 'stream', url, token, rate: RATE, seconds: RATE_SECONDS, warmup: RATE_WARMUP_SECONDS })
    if (process.env.BENCH_VERBOSE !== undefined) {
      const used = [server.pid, client.pid, process.pid].map((pid, i) => (cpuSeconds(pid) - cpu[i]).toFixed(1))
      console.error(`CPU s during the post stream: push ${used[0]}, load client ${used[1]}, bench+worker ${used[2]}`)
      console.error(`post to first socket p50 / p99 (ms): ${percentile(posted.first, 50).toFixed(1)} / ${percentile(posted.first, 99).toFixed(1)}`)
    }

    // (b) a reconnect storm next to those 1,000: plain connects (the baseline), then the same replaying.
    const plain = await client.run<StormResult>({ cmd: 'storm', url, count: STORM_SOCKETS, replay: false })
    const replayed = await client.run<StormResult>({ cmd: 'storm', url, count: STORM_SOCKETS, replay: true })

    const postP99 = percentile(posted.latencies, 99)
    const yes = (ok: boolean): string => (ok ? 'yes' : 'no')
    return [
      { benchmark: `push post_message→worker→delivery p50 (${RATE} msg/s, ${RATE_SOCKETS} sockets)`, result: ms(percentile(posted.latencies, 50)), target: '', ok: '' },
      { benchmark: `push post_message→worker→delivery p99 (${RATE} msg/s, ${RATE_SOCKETS} sockets)`, result: ms(postP99), target: '≤ 50 ms', ok: yes(postP99 <= 50) },
      { benchmark: 'push post deliveries received / expected', result: `${posted.latencies.length} / ${posted.expected}`, target: 'all', ok: yes(posted.latencies.length === posted.expected) },
      { benchmark: `push storm: ${STORM_SOCKETS} connect at once, last one open`, result: ms(Math.max(...plain.ready)), target: '', ok: '' },
      { benchmark: `push storm: ${STORM_SOCKETS} reconnect with since (50 back), last one caught up`, result: `${ms(Math.max(...replayed.ready))} (${(Math.max(...replayed.ready) / Math.max(...plain.ready)).toFixed(2)}× plain)`, target: '', ok: '' },
      { benchmark: `push storm: live delivery to the ${RATE_SOCKETS} open, p99 plain / replaying`, result: `${ms(percentile(plain.live, 99))} / ${ms(percentile(replayed.live, 99))}`, target: '', ok: '' },
      { benchmark: 'push storm: sockets caught up / expected', result: `${replayed.ready.length} / ${STORM_SOCKETS}`, target: 'all', ok: yes(replayed.ready.length === STORM_SOCKETS) },
    ]
  } finally {
    await client?.stop()
    await worker.close()
    await stop(server)
    await db.stop()
  }
}

if (require.main === module) {
  benchPush().then((rows) => { printTable(rows); process.exit(0) }, (err) => { console.error(err); process.exit(1) })
}
