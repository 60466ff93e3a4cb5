// The one process launcher: a service, the whole system in either shape, or a bench helper, each
// in its own process with a raised open-file limit; and what /proc says of a process (RSS, CPU).
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { freePort, waitForPort } from '../test/support/net'
import { choice } from './options'

export const ROOT = resolve(__dirname, '..')
// Per process: tens of thousands of sockets plus the database; capped by the hard limit when not root.
const OPEN_FILES = 65536
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export interface Launched { name: string, child: ChildProcess, pid: number, startedAt: number }

// `node <args>` under a shell that first raises the open-file limit, then execs (the pid is node's).
export function launch (name: string, args: string[], env: NodeJS.ProcessEnv, ipc = false): Launched {
  const raise = `ulimit -n ${OPEN_FILES} 2>/dev/null || ulimit -n "$(ulimit -Hn)"`
  const quoted = [process.execPath, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
  const child = spawn('bash', ['-c', `${raise}; exec ${quoted}`], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit', ...(ipc ? ['ipc' as const] : [])] })
  return { name, child, pid: child.pid!, startedAt: Date.now() }
}

export const tsx = (script: string): string[] => ['--import', 'tsx', resolve(ROOT, script)]

// The next IPC message of a process launched with `ipc`; an error if it exits first.
export async function message<T> (proc: Launched): Promise<T> {
  const done = new AbortController()
  const exited = once(proc.child, 'exit', { signal: done.signal }).then(() => { throw new Error(`${proc.name} exited`) })
  try {
    const [reply] = await Promise.race([once(proc.child, 'message', { signal: done.signal }), exited])
    return reply as T
  } finally {
    done.abort()
    exited.catch(() => {})
  }
}

export async function stop (proc: Launched, graceMs = 15000): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return
  const exited = once(proc.child, 'exit')
  proc.child.kill('SIGTERM')
  await Promise.race([exited, sleep(graceMs).then(() => proc.child.kill('SIGKILL'))])
}

export function rssBytes (pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (match === null) throw new Error(`no RSS for ${pid}`)
  return Number(match[1]) * 1024
}

// The RSS of a process's children (a tsx process's esbuild helper), summed.
export function childrenRssBytes (pid: number): number {
  const path = `/proc/${pid}/task/${pid}/children`
  if (!existsSync(path)) return 0
  const kids = readFileSync(path, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  return kids.reduce((sum, kid) => sum + rssBytes(kid) + childrenRssBytes(kid), 0)
}

// User plus system CPU seconds a process has used so far (clock ticks of 10 ms).
export function cpuSeconds (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

export const SECRET = 'bench-secret-bench-secret-bench-secret'

// What every service gets in the bench: production mode, quiet logs, room for every bench socket
// from 127.0.0.1, and heartbeats rare enough not to fall inside a CPU measurement.
export const serviceEnv = (databaseUrl: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  DATABASE_URL: databaseUrl,
  JWT_SECRET: SECRET,
  NODE_ENV: 'production',
  LOG_LEVEL: 'warn',
  HOST: '127.0.0.1',
  PUSH_MAX_SOCKETS_PER_ADDRESS: '100000',
  PUSH_HEARTBEAT_SECONDS: '600',
  ...extra,
})

export const SHAPES = ['procfile', 'single'] as const
export type Shape = typeof SHAPES[number]
// --shape=procfile|single|both: the Procfile's separate compiled processes (as deployed), or `npm start`'s one.
export function shapes (fallback: Shape | 'both'): Shape[] {
  const picked = choice('shape', [...SHAPES, 'both'] as const, fallback)
  return picked === 'both' ? [...SHAPES] : [picked]
}

export interface System { shape: Shape, api: string, ws: string, processes: Launched[], push: Launched, stop: () => Promise<void> }

// The product on a migrated database: the Procfile's api, worker and push lines (`exec node
// dist/services/<name>/server.js`), or `npm start`'s one process (`node --import tsx scripts/start.ts`).
// Ready once both ports accept and the api sees a worker running jobs.
export async function startSystem (shape: Shape, databaseUrl: string): Promise<System> {
  const [apiPort, pushPort] = [await freePort(), await freePort()]
  const env = serviceEnv(databaseUrl, { API_PORT: String(apiPort), PUSH_PORT: String(pushPort) })
  const processes = shape === 'procfile'
    ? (['api', 'worker', 'push'] as const).map((name) => launch(name, [...procfileFlags(name), compiled(`services/${name}/server.js`)], env))
    : [launch('npm start', tsx('scripts/start.ts'), env)]
  const system: System = {
    shape,
    api: `http://127.0.0.1:${apiPort}`,
    ws: `ws://127.0.0.1:${pushPort}/ws`,
    processes,
    push: processes[processes.length - 1],
    stop: async () => { await Promise.all(processes.map((proc) => stop(proc))) },
  }
  try {
    await waitForPort(apiPort, 60000)
    await waitForPort(pushPort, 60000)
    const deadline = Date.now() + 60000
    while ((await fetch(`${system.api}/readyz/worker`)).status !== 200) {
      if (Date.now() > deadline) throw new Error('no worker running after 60 s')
      await sleep(100)
    }
  } catch (err) {
    await system.stop()
    throw err
  }
  return system
}

// The node options of the Procfile's line for a process (`exec node --flag... dist/...`), so the bench runs it as deployed.
export function procfileFlags (name: string): string[] {
  const line = readFileSync(resolve(ROOT, 'Procfile'), 'utf8').split('\n').find((l) => l.startsWith(`${name}:`))
  const words = line?.slice(name.length + 1).trim().split(/\s+/) ?? []
  return words.slice(words.indexOf('node') + 1, -1)
}

let warned = false
// A file of dist/: refused when missing; a warning when any source is newer than the build (run `npm run build`).
function compiled (file: string): string {
  const path = resolve(ROOT, 'dist', file)
  if (!existsSync(path)) throw new Error(`${path} is missing: run npm run build (or npm run bench -- --build)`)
  const built = statSync(path).mtimeMs
  const newer = ['lib', 'plugins', 'services', 'scripts'].flatMap((dir) => newerSources(resolve(ROOT, dir), built))
  if (newer.length > 0 && !warned) console.error(`warning: dist/ is older than ${newer.length} source file(s), e.g. ${newer[0]}: npm run build`)
  warned = true
  return path
}

function newerSources (dir: string, than: number): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.parentPath.includes('public'))
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((path) => statSync(path).mtimeMs > than)
}
