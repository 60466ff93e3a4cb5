// Runs the system's real commands (`npm start`, `npm run migrate`, `nf start`) as process groups
// of their own, as a terminal would, and checks what they leave behind.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { connect } from 'node:net'
import type { Test } from 'tap'
import { waitFor } from '../helper'
import { alive, parentOf } from '../../lib/processes'

export { alive, parentOf }

export const root = resolve(__dirname, '..', '..')

// The Procfile's lines, by process name.
export function procfile (): Map<string, string> {
  const lines = readFileSync(join(root, 'Procfile'), 'utf8').split('\n').filter((line) => line.trim() !== '')
  return new Map(lines.map((line) => {
    const colon = line.indexOf(':')
    return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()]
  }))
}

export interface Run {
  child: ChildProcess
  // stdout and stderr so far, interleaved.
  output: () => string
  exit: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  // Resolves with the first match of `pattern` in the output (rejects if the run ends first).
  waitFor: (pattern: RegExp, ms?: number) => Promise<RegExpExecArray>
  // A signal to the whole group (a terminal's Ctrl-C) or to the top process only.
  signal: (signal: NodeJS.Signals, to: 'group' | 'top') => void
}

const made: string[] = []
// A fresh folder under the system's temporary one, removed when the test file ends.
export function tempDir (prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  if (made.push(dir) === 1) process.on('exit', () => { for (const d of made) rmSync(d, { recursive: true, force: true }) })
  return dir
}

// A port for this file's own embedded PostgreSQL, apart from any other test run's: runs on
// different EMBEDDED_POSTGRES_TEST_PORTs get different ones (the test port plus n thousand).
export function embeddedTestPort (n: number): number {
  return Number(process.env.EMBEDDED_POSTGRES_TEST_PORT ?? 5434) + 1000 * n
}

// The environment of a run with an embedded database under dataDir. DATABASE_URL is set, but
// empty: a variable already set wins over .env, so a developer's .env cannot point the run at a
// real database (empty means "none", the embedded one).
export function runEnv (dataDir: string, pgPort: number, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, DATABASE_URL: '', DATA_DIR: dataDir, EMBEDDED_POSTGRES_PORT: String(pgPort), API_PORT: '0', PUSH_PORT: '0', LOG_LEVEL: 'warn', ...extra }
}

// npm as a user runs it (npm_execpath is set under `npm test`).
export function npm (args: string[], env: NodeJS.ProcessEnv): Run {
  const execPath = process.env.npm_execpath
  return run(execPath === undefined ? 'npm' : process.execPath, execPath === undefined ? args : [execPath, ...args], env)
}

const groups: number[] = []

export function run (command: string, args: string[], env: NodeJS.ProcessEnv, cwd = root): Run {
  const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  groups.push(child.pid!)
  let out = ''
  const listeners = new Set<() => void>()
  const append = (chunk: Buffer): void => {
    out += chunk.toString()
    for (const listener of listeners) listener()
  }
  child.stdout!.on('data', append)
  child.stderr!.on('data', append)
  const exit = once(child, 'close').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
  return {
    child,
    output: () => out,
    exit,
    waitFor: (pattern, ms = 60000) => new Promise((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(out)
        if (match !== null) {
          listeners.delete(check)
          clearTimeout(timer)
          resolve(match)
        }
      }
      const timer = setTimeout(() => reject(new Error(`no ${pattern} in: ${out}`)), ms)
      listeners.add(check)
      exit.then(() => setImmediate(() => {
        // A run that ended (e.g. failed to start) must not hold the test file open for the rest of `ms`.
        clearTimeout(timer)
        listeners.delete(check)
        reject(new Error(`ended before ${pattern}: ${out}`))
      }), () => {})
      check()
    }),
    signal: (signal, to) => process.kill(to === 'group' ? -child.pid! : child.pid!, signal),
  }
}

// The postmaster's pid and port from its data folder, while it has a postmaster.pid.
export function postmaster (dataDir: string): { pid: number, port: number } | null {
  const file = join(dataDir, 'postgres', 'postmaster.pid')
  if (!existsSync(file)) return null
  const lines = readFileSync(file, 'utf8').split('\n')
  return { pid: Number(lines[0]), port: Number(lines[3]) }
}

export const listening = (port: number): Promise<boolean> => new Promise((resolve) => {
  const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
  socket.on('error', () => resolve(false))
})

// Every process of the group gone (the supervisor and PostgreSQL have sessions of their own) and no port answering.
export async function nothingLeft (pids: number[], ports: number[], ms = 15000): Promise<void> {
  await waitFor(async () => {
    if (pids.some(alive)) return false
    for (const port of ports) if (await listening(port)) return false
    return true
  }, ms, `processes ${pids.join(', ')} and ports ${ports.join(', ')} gone`)
}

// Lines a clean stop must not print: stack frames, and close-with-grace's or tsx's second-signal exit.
export const STACK = /^\s+at \S.*\(?.*:\d+:\d+\)?$/m
export const SECOND_SIGNAL = /second (SIGINT|SIGTERM)|force(d)? (exit|kill)/i

// The pids of the processes a run started that live outside its group: supervisors, by their parent.
export function childrenOf (pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

// When the test ends, passed, failed or timed out: kills every process group run() started and
// dataDir's supervisor and PostgreSQL (sessions of their own), so nothing holds a port for the next.
export function killLeftovers (t: Test, dataDir?: string): void {
  t.teardown(async () => {
    for (const group of groups.splice(0)) {
      try { process.kill(-group, 'SIGKILL') } catch {}
    }
    const pg = dataDir === undefined ? null : postmaster(dataDir)
    if (pg === null || !isCommand(pg.pid, 'postgres')) return
    const kill = (pid: number, signal: NodeJS.Signals): void => { try { process.kill(pid, signal) } catch {} }
    try {
      const supervisor = parentOf(pg.pid)
      if (isCommand(supervisor, 'postgres-supervisor')) kill(supervisor, 'SIGKILL')
    } catch {}
    // Immediate shutdown (its backends quit with it), then SIGKILL if it lingers.
    kill(pg.pid, 'SIGQUIT')
    await waitFor(async () => !alive(pg.pid), 5000, 'PostgreSQL to quit').catch(() => kill(pg.pid, 'SIGKILL'))
  })
}

function isCommand (pid: number, word: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(word)
  } catch {
    return false
  }
}
