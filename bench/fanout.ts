// Idle sockets and fan-out, the same way for the push service and the bare `ws` baseline: RSS
// growth per socket from `from` to `to` open sockets, then one event per round to all of them,
// timed until the last socket has it. The sockets stay open; the caller trims them.
import { rssBytes, sleep } from './launch'
import type { LoadClient } from './load-client'
import { summarize, type Summary } from './stats'

export interface FanoutTarget { ws: string, pid: number, broadcast?: string }
export interface Fanout { perSocketBytes: number, last: Summary, each: Summary }

export async function fanoutTo (client: LoadClient, target: FanoutTarget, from: number, to: number, rounds: number): Promise<Fanout> {
  await client.run({ cmd: 'open', url: target.ws, count: from })
  await sleep(2000)
  const before = rssBytes(target.pid)
  await client.run({ cmd: 'open', url: target.ws, count: to })
  await sleep(3000)
  const perSocketBytes = (rssBytes(target.pid) - before) / (to - from)
  const fan = await client.run<{ last: number[], each: number[] }>({ cmd: 'fanout', rounds, broadcast: target.broadcast })
  return { perSocketBytes, last: summarize(fan.last), each: summarize(fan.each) }
}
