// `npm run bench`: every benchmark in one run, each with its baseline measured beside it.
import { benchApi } from './api'
import { benchWorker } from './worker'
import { benchPush } from './push'

type Bench = () => Promise<Array<Record<string, string | number>>>

const sections: Array<[string, Bench]> = [
  ['API: token-authenticated reads vs a bare Fastify route', benchApi],
  ['Worker: asynchronous posts and job throughput', benchWorker],
  ['Push: idle sockets, fan-out and post-to-delivery', benchPush],
]

async function main (): Promise<void> {
  const only = process.argv.slice(2)
  for (const [title, bench] of sections) {
    if (only.length > 0 && !only.some((word) => title.toLowerCase().startsWith(word.toLowerCase()))) continue
    console.log(`\n## ${title}`)
    console.table(await bench())
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
