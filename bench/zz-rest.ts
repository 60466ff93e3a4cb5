import { readFileSync } from 'node:fs'
import { benchDatabase } from './database'
import { launch, rssBytes, serviceEnv, sleep, stop } from './launch'
import { freePort, waitForPort } from '../test/support/net'

const flags = (process.env.FLAGS ?? '--max-semi-space-size=1').split(' ').filter(Boolean)
const names = (process.env.SERVICES ?? 'api,worker,push').split(',')
function smaps (pid: number): string {
  const s = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
  const g = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)![1]) / 1024
  return `anon ${g('Anonymous').toFixed(1)} file ${(g('Rss') - g('Anonymous')).toFixed(1)}`
}
async function main () {
  const db = await benchDatabase('rest', 7777)
  const [apiPort, pushPort] = [await freePort(), await freePort()]
  const env = { ...serviceEnv(db.url, { API_PORT: String(apiPort), PUSH_PORT: String(pushPort) }), ...(process.env.EXTRA_ENV ? Object.fromEntries(process.env.EXTRA_ENV.split(',').map((kv) => kv.split('='))) : {}) }
  const procs = names.map((n) => launch(n, [...flags, `/work/main/${process.env.DIST ?? "dist"}/services/${n}/server.js`], env))
  await sleep(11000)
  for (const p of procs) console.log(p.name, (rssBytes(p.pid) / 1048576).toFixed(1), 'MiB', smaps(p.pid))
  await Promise.all(procs.map((p) => stop(p)))
  await db.stop()
}
main().catch((e) => { console.error(e); process.exit(1) })
