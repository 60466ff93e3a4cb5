// Push benchmarks, the push server and its load client each in their own process:
// (a) RSS per idle connection at N = 10,000 sockets; (b) one event fanned out to all N: time
// until the last socket has it, over several rounds; (c) post-to-delivery latency at 200
// messages/s with 1,000 sockets: post_message frames, the worker's job, the event, the fan-out.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { freePort, waitForPort } from '../test/support/net'
import { resolve } from 'node:path'
import { benchDatabase } from './database'
import { buildApi } from '../services/api/app'
import { buildWorker } from '../services/worker/app'
import type { Command, StormResult } from './push-client'

const PORT = 5463
const SOCKETS = Number(process.env.BENCH_PUSH_SOCKETS ?? 10_000)
const WARM_SOCKETS = 200
const FANOUT_ROUNDS = 20
const RATE = 200
const RATE_SOCKETS = 1000
const RATE_SECONDS = 10
// Posted at the same rate before the timed seconds, like the fan-out's untimed first round.
const RATE_WARMUP_SECONDS = 1
const STORM_SOCKETS = 3000
// Per process: N sockets plus the database and the runtime; capped by the hard limit when not root.
const OPEN_FILES = 65536
const ROOT = resolve(__dirname, '..')

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
  PUSH_MAX_SOCKETS_PER_ADDRESS: String(SOCKETS + STORM_SOCKETS),
})

// `node` under a shell that first raises the open-file limit (as far as the hard limit allows).
function node (script: string, args: string[], childEnv: Record<string, string>, ipc: boolean): ChildProcess {
  const raise = `ulimit -n ${OPEN_FILES} 2>/dev/null || ulimit -n "$(ulimit -Hn)"`
  const quoted = [process.execPath, '--import', 'tsx', script, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
  return spawn('bash', ['-c', `${raise}; exec ${quoted}`], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'inherit', 'inherit', ...(ipc ? ['ipc' as const] : [])] })
}



function rssBytes (pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (match === null) throw new Error(`no RSS for ${pid}`)
  return Number(match[1]) * 1024
}

// User plus system CPU seconds a process has used so far.
function cpuSeconds (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function percentile (values: number[], p: number): number {
  const sorted = Float64Array.from(values).sort()
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))]
}

class LoadClient {
  private constructor (private readonly proc: ChildProcess) {}
  get pid (): number { return this.proc.pid! }

  static async start (databaseUrl: string): Promise<LoadClient> {
    const proc = node(resolve(__dirname, 'push-client.ts'), [databaseUrl], process.env as Record<string, string>, true)
    await once(proc, 'message')
    return new LoadClient(proc)
  }

  async run<T> (command: Command): Promise<T> {
    this.proc.send(command)
    const [reply] = await once(this.proc, 'message') as [{ ok: boolean, result: T, error?: string }]
    if (!reply.ok) throw new Error(`load client: ${reply.error}`)
    return reply.result
  }

  async stop (): Promise<void> {
    if (this.proc.exitCode !== null) return
    const exited = once(this.proc, 'exit')
    this.proc.send({ cmd: 'exit' })
    await Promise.race([exited, sleep(5000).then(() => this.proc.kill('SIGKILL'))])
  }
}

async function stop (proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return
  const exited = once(proc, 'exit')
  proc.kill('SIGTERM')
  await Promise.race([exited, sleep(15000).then(() => proc.kill('SIGKILL'))])
}

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

export async function benchPush (): Promise<Array<Record<string, string | number>>> {
  const db = await benchDatabase('flack_bench_push', PORT)
  const port = await freePort()
  const url = `ws://127.0.0.1:${port}/ws`
  const server = node(resolve(ROOT, 'services/push/server.ts'), [], env(db.url, port), false)
  let client: LoadClient | null = null
  const worker = buildWorker({ env: env(db.url, port) })
  try {
    await waitForPort(port, 30000)
    const token = await benchToken(db.url)
    await worker.start()
    client = await LoadClient.start(db.url)

    // (a) idle sockets: RSS growth from a warmed-up server with a few sockets to N.
    await client.run({ cmd: 'open', url, count: WARM_SOCKETS })
    await sleep(2000)
    const before = rssBytes(server.pid!)
    await client.run({ cmd: 'open', url, count: SOCKETS })
    await sleep(3000)
    const after = rssBytes(server.pid!)
    const perSocket = (after - before) / (SOCKETS - WARM_SOCKETS)

    // (b) one event to all N.
    const fan = await client.run<{ last: number[], each: number[] }>({ cmd: 'fanout', rounds: FANOUT_ROUNDS })
    if (process.env.BENCH_VERBOSE !== undefined) console.error('fan-out rounds (ms):', fan.last.map((n) => n.toFixed(1)).join(' '))

    // (c) a steady stream to 1,000 sockets.
    await client.run({ cmd: 'trim', count: RATE_SOCKETS })
    await sleep(1000)
    const cpu = [server.pid!, client.pid, process.pid].map(cpuSeconds)
    const posted = await client.run<{ latencies: number[], first: number[], expected: number, sent: number }>({ cmd: 'stream', url, token, rate: RATE, seconds: RATE_SECONDS, warmup: RATE_WARMUP_SECONDS })
    if (process.env.BENCH_VERBOSE !== undefined) {
      const used = [server.pid!, client.pid, process.pid].map((pid, i) => (cpuSeconds(pid) - cpu[i]).toFixed(1))
      console.error(`CPU s during the post stream: push ${used[0]}, load client ${used[1]}, bench+worker ${used[2]}`)
      console.error(`post to first socket p50 / p99 (ms): ${percentile(posted.first, 50).toFixed(1)} / ${percentile(posted.first, 99).toFixed(1)}`)
    }

    // (d) a reconnect storm next to those 1,000: plain connects (the baseline), then the same replaying.
    const plain = await client.run<StormResult>({ cmd: 'storm', url, count: STORM_SOCKETS, replay: false })
    const replayed = await client.run<StormResult>({ cmd: 'storm', url, count: STORM_SOCKETS, replay: true })

    const ms = (n: number): string => `${n.toFixed(1)} ms`
    const kb = perSocket / 1024
    const fanP50 = percentile(fan.last, 50)
    const fanP99 = percentile(fan.last, 99)
    const postP99 = percentile(posted.latencies, 99)
    const yes = (ok: boolean): string => (ok ? 'yes' : 'no')
    return [
      { benchmark: `push RSS per idle connection (${SOCKETS} sockets)`, result: `${kb.toFixed(2)} KB`, target: '≤ 8 KB', ok: yes(kb <= 8) },
      { benchmark: `push fan-out to ${SOCKETS}: last socket p50 (${FANOUT_ROUNDS} rounds)`, result: ms(fanP50), target: '', ok: '' },
      { benchmark: `push fan-out to ${SOCKETS}: last socket p99 (${FANOUT_ROUNDS} rounds)`, result: ms(fanP99), target: '≤ 250 ms', ok: yes(fanP99 <= 250) },
      { benchmark: `push fan-out to ${SOCKETS}: each socket p50 / p99`, result: `${ms(percentile(fan.each, 50))} / ${ms(percentile(fan.each, 99))}`, target: '', ok: '' },
      { benchmark: `push post_message→worker→delivery p50 (${RATE} msg/s, ${RATE_SOCKETS} sockets)`, result: ms(percentile(posted.latencies, 50)), target: '', ok: '' },
      { benchmark: `push post_message→worker→delivery p99 (${RATE} msg/s, ${RATE_SOCKETS} sockets)`, result: ms(postP99), target: '≤ 50 ms', ok: yes(postP99 <= 50) },
      { benchmark: 'push post deliveries received / expected', result: `${posted.latencies.length} / ${posted.expected}`, target: 'all', ok: yes(posted.latencies.length === posted.expected) },
      { benchmark: `push storm: ${STORM_SOCKETS} connect at once, last one open`, result: ms(Math.max(...plain.ready)), target: '', ok: '' },
      { benchmark: `push storm: ${STORM_SOCKETS} reconnect with since (50 back), last one caught up`, result: `${ms(Math.max(...replayed.ready))} (${(Math.max(...replayed.ready) / Math.max(...plain.ready)).toFixed(2)}× plain)`, target: '', ok: '' },
      { benchmark: 'push storm: live delivery to the 1000 open, p99 plain / replaying', result: `${ms(percentile(plain.live, 99))} / ${ms(percentile(replayed.live, 99))}`, target: '', ok: '' },
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
  benchPush().then((rows) => { console.table(rows); process.exit(0) }, (err) => { console.error(err); process.exit(1) })
}
