// `npm run bench [-- <section>...] [--name=value...]`: the benchmarks, each section in a fresh
// process (no section measures another one's heap, sockets or timers), each figure beside its
// baseline from the same run. `--name=value` reaches every section as BENCH_NAME (bench/options.ts);
// `--build` runs `npm run build` first, so the Procfile shape measures the current source.
// Options (default): --shape=procfile|single|both (production: both, others: procfile),
// --postgres-port (each section its own), --seconds=5 (each autocannon load), --sockets=10000,
// --rounds=20 (fan-out), --few-sockets=1000, --readers=100, --room-messages=1000, --room-rate=50,
// --history-messages=1000000, --alone=300 (sequential requests per page), --jobs=20000,
// --trip-seconds=15, --stream-sockets=1000, --stream-seconds=10, --storm-sockets=3000.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { resolve } from 'node:path'
import { envName } from './options'

const sections: Array<[string, string, string]> = [
  ['production', 'Production shape (issue 14): RSS at rest, lists and token reads vs bare Fastify, posts end to end, fan-out vs bare ws; Procfile and npm start', 'production.ts'],
  ['rooms', 'Rooms (issue 10): a 100-reader room among 1,000 and 10,000 sockets, broadcast and idle sockets vs bare ws', 'rooms.ts'],
  ['history', 'History (issue 13): pages and search over 1,000,000 messages', 'history.ts'],
  ['worker', 'Worker: asynchronous posts and job throughput', 'worker.ts'],
  ['push', 'Push: post-to-delivery and reconnect storms', 'push.ts'],
]

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  const env = { ...process.env }
  for (const arg of args.filter((a) => a.startsWith('--') && a.includes('='))) {
    const [name, value] = arg.slice(2).split('=', 2)
    env[envName(name)] = value
  }
  const only = args.filter((a) => !a.startsWith('--'))
  const unknown = only.filter((word) => !sections.some(([key]) => key === word))
  if (unknown.length > 0) throw new Error(`unknown section ${unknown.join(', ')}: one of ${sections.map(([key]) => key).join(', ')}`)
  if (args.includes('--build') && spawnSync('npm', ['run', 'build'], { stdio: 'inherit' }).status !== 0) process.exit(1)
  let failed = false
  for (const [key, title, file] of sections) {
    if (only.length > 0 && !only.includes(key)) continue
    console.log(`\n## ${title}\n`)
    const started = Date.now()
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(__dirname, file)], { stdio: 'inherit', env })
    const [code] = await once(child, 'exit') as [number | null]
    console.log(`\n(${key}: ${Math.round((Date.now() - started) / 1000)} s${code === 0 ? '' : `, failed with exit code ${code}`})`)
    if (code !== 0) failed = true
  }
  if (failed) process.exit(1)
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err)
  process.exit(1)
})
