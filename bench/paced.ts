import { Pool } from 'undici'

export interface PacedResult { latencies: number[], statuses: Record<number, number>, sent: number, seconds: number }

// Open-loop load at an even pace (autocannon's rate limit sends each second's quota in a
// burst): request i starts at i/rate seconds whatever the earlier ones are doing.
export async function pacedLoad (options: {
  origin: string
  path: string
  method: 'GET' | 'POST' | 'PUT'
  headers: Record<string, string>
  body?: string
  rate: number
  seconds: number
}): Promise<PacedResult> {
  const pool = new Pool(options.origin, { connections: 256, pipelining: 1 })
  const latencies: number[] = []
  const statuses: Record<number, number> = {}
  const total = Math.round(options.rate * options.seconds)
  const inFlight: Array<Promise<void>> = []
  const start = performance.now()
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / options.rate - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    const sentAt = performance.now()
    inFlight.push(pool.request({ path: options.path, method: options.method, headers: options.headers, body: options.body })
      .then(async (res) => {
        await res.body.dump()
        latencies.push(performance.now() - sentAt)
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
      }, () => { statuses[0] = (statuses[0] ?? 0) + 1 }))
  }
  await Promise.all(inFlight)
  const seconds = (performance.now() - start) / 1000
  await pool.close()
  return { latencies: latencies.sort((a, b) => a - b), statuses, sent: total, seconds }
}
