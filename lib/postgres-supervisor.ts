// Runs one PostgreSQL server for the process that started it (lib/embedded-postgres.ts), in
// sessions of their own so a terminal's Ctrl-C never reaches them: PostgreSQL stops when that
// process closes our stdin, or dies without doing so, or signals us; never at the same time as
// the services that still use it.
import { spawn } from 'node:child_process'

interface Plan { postgres: string, args: string[], uid?: number, gid?: number, smartMs: number }

const plan = JSON.parse(process.argv[2] ?? '{}') as Plan
const READY = 'database system is ready to accept connections'

// Our parent may be gone by the time we write: a broken pipe must not stop us stopping PostgreSQL.
process.stdout.on('error', () => {})
process.stderr.on('error', () => {})

const server = spawn(plan.postgres, plan.args, {
  detached: true,
  stdio: ['ignore', 'ignore', 'pipe'],
  env: { ...process.env, LC_MESSAGES: 'C' },
  ...(plan.uid === undefined ? {} : { uid: plan.uid, gid: plan.gid }),
})
let ready = false
let stopping = false
let tail = ''
server.stderr.on('data', (chunk: Buffer) => {
  tail = (tail + chunk.toString()).slice(-4000)
  if (!ready && tail.includes(READY)) {
    ready = true
    process.stdout.write(`ready ${server.pid}\n`)
  }
})
server.on('error', (err) => { tail += err.message })
server.on('exit', (code, signal) => {
  if (!ready) process.stdout.write(`failed ${JSON.stringify(tail.trim() || `postgres exited with ${signal ?? code}`)}\n`)
  process.exitCode = stopping ? 0 : 1
  process.stdin.destroy()
})

// Smart shutdown lets connected clients finish; then fast (their transactions roll back); then immediate.
function stop (): void {
  if (stopping) return
  stopping = true
  server.kill('SIGTERM')
  setTimeout(() => server.kill('SIGINT'), plan.smartMs).unref()
  setTimeout(() => server.kill('SIGQUIT'), plan.smartMs + 10000).unref()
}

process.stdin.on('end', stop)
process.stdin.on('error', stop)
process.stdin.resume()
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop)
