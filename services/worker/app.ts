import { Logger, type LogLevel, type Runner, type TaskList } from 'graphile-worker'
import { loadConfig, type Config, type ConfigInput } from '../../plugins/config'
import { createDatabase, createPool, type Database } from '../../plugins/database'
import type { Closeable } from '../../lib/run-service'
import { EDIT_MESSAGE, POST_MESSAGE, PREVIEW_LINKS } from '../../lib/tasks'
import { createPreviewer } from './link-preview'
import type { TaskFactory, WorkerContext } from './context'
import postMessage from './tasks/post_message'
import editMessage from './tasks/edit_message'
import previewLinks from './tasks/preview_links'
import sweepPresence, { SWEEP_PRESENCE } from './tasks/sweep_presence'
import prune, { PRUNE } from './tasks/prune'
import endStrandedTasks, { END_STRANDED_TASKS } from './tasks/end_stranded_tasks'
import { scheduleNext } from './recurring'
import { HEARTBEAT_DEFAULTS, WorkerHeartbeat, type HeartbeatSettings } from './heartbeat'
import { RunnerSupervisor } from './supervisor'

// Task identifier -> task: the identifier is the file name under tasks/.
const TASKS: Record<string, TaskFactory> = {
  [POST_MESSAGE]: postMessage,
  [EDIT_MESSAGE]: editMessage,
  [PREVIEW_LINKS]: previewLinks,
  [SWEEP_PRESENCE]: sweepPresence,
  [PRUNE]: prune,
  [END_STRANDED_TASKS]: endStrandedTasks,
}
// The recurring jobs every worker makes sure exist (at start, then every minute).
const RECURRING = [SWEEP_PRESENCE, PRUNE, END_STRANDED_TASKS]
const ENSURE_RECURRING_MS = 60_000

export interface WorkerOptions {
  // Settings by environment variable name; validated, never read from process.env here.
  env: ConfigInput
  // Host processes (npm start, tests) own the signals; run alone, the worker does.
  handleSignals?: boolean
  // Only these tasks (benchmarks add their own); defaults to all of them.
  tasks?: TaskList
  // Heartbeat timing (tests shorten it).
  heartbeat?: Partial<HeartbeatSettings>
  // Called if the worker stops for good without being closed; the process should then exit non-zero.
  onStoppedForGood?: (err: Error) => void
}

export interface WorkerHealth {
  // A job runner is running (it is started again after a database outage stops it).
  running: boolean
  // The database saw our heartbeat recently.
  alive: boolean
  restarts: number
}

export interface Worker extends Closeable {
  config: Config
  db: Database
  start: () => Promise<Runner>
  runner: () => Runner | null
  health: () => WorkerHealth
  heartbeat: WorkerHeartbeat
}

// graphile-worker levels mapped onto ours; per-job chatter ('Completed task ...') stays at debug.
function workerLogger (level: Config['LOG_LEVEL']): Logger {
  const rank: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: 100 }
  const ours: Record<LogLevel, number> = { debug: 20, info: 20, warning: 40, error: 50 } as Record<LogLevel, number>
  return new Logger((scope) => (logLevel, message) => {
    if (ours[logLevel] < rank[level]) return
    process.stderr.write(JSON.stringify({ level: logLevel, time: Date.now(), name: 'worker', task: scope.taskIdentifier, job: scope.jobId, msg: message }) + '\n')
  })
}

// The graphile-worker runner with its configuration; nothing runs until start().
export function buildWorker (options: WorkerOptions): Worker {
  const config = loadConfig(options.env)
  const db = createDatabase(config)
  const logger = workerLogger(config.LOG_LEVEL)
  const previewer = createPreviewer({
    allowPrivate: config.LINK_PREVIEW_ALLOW_PRIVATE,
    timeoutMs: config.LINK_PREVIEW_TIMEOUT_MS,
    maxBytes: config.LINK_PREVIEW_MAX_BYTES,
    maxRedirects: config.LINK_PREVIEW_MAX_REDIRECTS,
  }, (url, err) => logger.debug(`no preview for ${url}: ${err.message}`))
  // No client-side query timeout here: it would cut a connection with statements on the wire;
  // the server's statement_timeout fails the statement instead, and the pipelined COMMIT rolls back.
  const pipelined = createPool(config.DATABASE_URL, 2, { pipeline: true, query_timeout: 0, statement_timeout: 10000 })
  const ctx: WorkerContext = { config, db, pipelined, previewer }
  const taskList: TaskList = options.tasks ?? Object.fromEntries(Object.entries(TASKS).map(([name, make]) => [name, make(ctx)]))
  // Ours, not graphile-worker's: it ends its own pool without waiting, and a database stopped
  // right after would then crash the process with an unhandled idle-client error.
  const queuePool = createPool(config.DATABASE_URL, config.WORKER_CONCURRENCY + 2)
  // Its own connection, so heartbeats never wait behind jobs for one.
  const heartbeatPool = createPool(config.DATABASE_URL, 1, { query_timeout: 5000 })
  const heartbeat = new WorkerHeartbeat(heartbeatPool, {
    info: (line) => logger.info(line),
    warn: (line) => logger.warn(line),
  }, Object.keys(taskList), { ...HEARTBEAT_DEFAULTS, ...options.heartbeat })
  const supervisor = new RunnerSupervisor({
    runnerOptions: {
      pgPool: queuePool,
      concurrency: config.WORKER_CONCURRENCY,
      noHandleSignals: options.handleSignals !== true,
      logger,
      taskList,
      preset: {
        worker: {
          // Lock a batch of jobs per fetch: far fewer round trips per job.
          localQueue: { size: config.WORKER_LOCAL_QUEUE_SIZE },
          completeJobBatchDelay: 0,
          failJobBatchDelay: 0,
        },
      },
    },
    log: { warn: (line) => logger.warn(line), error: (line) => logger.error(line) },
    onPool: (poolId) => heartbeat.setPool(poolId),
    onStoppedForGood: (err) => {
      logger.error(`worker stopped for good: ${err.message}`)
      options.onStoppedForGood?.(err)
    },
  })
  heartbeat.onBeat = (jobs) => supervisor.jobsWaiting(jobs)
  let started: Promise<Runner> | null = null
  let timer: NodeJS.Timeout | undefined
  let closing: Promise<void> | null = null

  const ensureRecurring = async (): Promise<void> => {
    const runner = supervisor.current
    if (runner === null || options.tasks !== undefined) return
    for (const identifier of RECURRING) await scheduleNext(runner, identifier, 0)
  }

  return {
    config,
    db,
    heartbeat,
    runner: () => supervisor.current,
    health: () => ({ running: supervisor.running, alive: heartbeat.alive, restarts: supervisor.restarts }),
    start: () => {
      started ??= (async () => {
        const runner = await supervisor.start()
        heartbeat.start()
        await ensureRecurring().catch((err: Error) => logger.error(`recurring jobs: ${err.message}`))
        timer = setInterval(() => { ensureRecurring().catch((err: Error) => logger.warn(`recurring jobs: ${err.message}`)) }, ENSURE_RECURRING_MS)
        timer.unref()
        return runner
      })()
      return started
    },
    // Jobs in flight finish (or are released to the queue); then the pools close.
    close: () => {
      closing ??= (async () => {
        clearInterval(timer)
        await started?.catch(() => {})
        await supervisor.stop()
        await heartbeat.stop()
        await previewer.close()
        await queuePool.end()
        await pipelined.end()
        await heartbeatPool.end()
        await db.close()
      })()
      return closing
    },
  }
}
