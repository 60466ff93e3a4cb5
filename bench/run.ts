// `npm run bench`: every benchmark in one run, each with its baseline measured beside it.
// Each section runs in a fresh process, so no section measures another one's leftovers
// (heap, sockets, timers): the worker section runs its worker in-process.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { resolve } from 'node:path'

const sections: Array<[string, string]> = [
  ['API: token-authenticated reads vs a bare Fastify route', 'api.ts'],
  ['Worker: asynchronous posts and job throughput', 'worker.ts'],
  ['Push: idle sockets, fan-out and post-to-delivery', 'push.ts'],
  ['History: pages and search over 1,000,000 messages', 'history.ts'],
]

async function main (): Promise<void> {
  const only = process.argv.slice(2)
  let failed = false
  for (const [title, file] of sections) {
    if (only.length > 0 && !only.some((word) => title.toLowerCase().startsWith(word.toLowerCase()))) continue
    console.log(`\n## ${title}`)
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(__dirname, file)], { stdio: 'inherit' })
    const [code] = await once(child, 'exit') as [number | null]
    if (code !== 0) failed = true
  }
  if (failed) process.exit(1)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
