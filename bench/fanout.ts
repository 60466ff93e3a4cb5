// Idle sockets and fan-out, the same way for the push service and the bare `ws` baseline: RSS
// growth per socket from `from` to `to` open sockets, then one event per round to all of them,
// timed until the last socket has it. The sockets stay open; the caller trims them.
import { rssBytes, sleep } from './launch'
import type { LoadClient } from './load-client'
import { summarize, type Summary } from './stats'

export interface FanoutTarget { ws: string, pid: number, broadcast?: string }
export interface Fanout { perSocketBytes: number, last: Summary, each: Summary }

// The median of 5 samples 500 ms apart: one sample may fall just before or after the young
// generation grows (up to 32 MiB with V8's default semi-space), a swing of ~3 KB per socket.
async function settledRss (pid: number): Promise<number> {
  const samples: number[] = []
  for (let i = 0; i < 5; i++) {
    if (i > 0) await sleep(500)
    samples.push(rssBytes(pid))
  }
  return samples.sort((a, b) => a - b)[2]
}

export async function fanoutTo (client: LoadClient, target: FanoutTarget, from: number, to: number, rounds: number): Promise<Fanout> {
  await client.run({ cmd: 'open', url: target.ws, count: from })
  await sleep(2000)
  const before = await settledRss(target.pid)
  await client.run({ cmd: 'open', url: target.ws, count: to })
  await sleep(3000)
  const perSocketBytes = (await settledRss(target.pid) - before) / (to - from)
  const fan = await client.run<{ last: number[], each: number[] }>({ cmd: 'fanout', rounds, broadcast: target.broadcast })
  return { perSocketBytes, last: summarize(fan.last), each: summarize(fan.each) }
}
