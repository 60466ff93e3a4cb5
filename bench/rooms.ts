// Issue 10: a private room's message costs its readers, not every connected socket. One message
// to a 100-reader room while 1,000 and then 10,000 sockets are connected: POST to the last
// reader, and the push process's CPU per 1,000 such messages (10,000 beside 1,000); then the
// broadcast in general to every socket and RSS per idle socket, beside a bare `ws` server.
import { benchDatabase } from './database'
import { fanoutTo } from './fanout'
import { json, seedUsers, startBare, token } from './http'
import { cpuSeconds, shapes, startSystem, stop, type System } from './launch'
import { LoadClient } from './load-client'
import { option } from './options'
import type { RoomPostsResult } from './push-client'
import { ms, summarize } from './stats'
import { beside, printTable, type Row } from './table'

const SOCKETS = option('sockets', 10_000)
const FEW_SOCKETS = option('few-sockets', 1_000)
const READERS = option('readers', 100)
const MESSAGES = option('room-messages', 1_000)
const RATE = option('room-rate', 50)
const ROUNDS = option('rounds', 20)

// The readers' users, their tokens, and a private room of them all (owned by the first, who posts).
async function privateRoom (system: System, databaseUrl: string): Promise<{ roomId: number, tokens: string[] }> {
  const ids = await seedUsers(databaseUrl, 'reader', READERS)
  const tokens: string[] = []
  for (let i = 0; i < READERS; i += 8) {
    tokens.push(...await Promise.all(ids.slice(i, i + 8).map((_, j) => token(system.api, `reader${i + j + 1}`))))
  }
  const auth = { authorization: `Bearer ${tokens[0]}` }
  const room = await json<{ id: number }>(`${system.api}/api/rooms`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'bench', private: true }) })
  for (const id of ids.slice(1)) await json(`${system.api}/api/rooms/${room.id}/members/${id}`, { method: 'PUT', headers: auth })
  return { roomId: room.id, tokens }
}

export async function benchRooms (): Promise<Row[]> {
  const rows: Row[] = []
  for (const shape of shapes('procfile')) {
    // A fresh baseline each time: RSS per socket of a process that held sockets before means little.
    const bare = await startBare()
    try {
      const db = await benchDatabase('flack_bench_rooms', 5464)
      const system = await startSystem(shape, db.url)
      const client = await LoadClient.start(db.url)
      try {
        const { roomId, tokens } = await privateRoom(system, db.url)
        await client.run({ cmd: 'readers', url: system.ws, tokens })
        await client.run({ cmd: 'open', url: system.ws, count: FEW_SOCKETS - READERS })
        const posts = async (run: string, count = MESSAGES): Promise<RoomPostsResult & { cpu: number }> => {
          const cpu = cpuSeconds(system.push.pid)
          const result = await client.run<RoomPostsResult>({ cmd: 'roomPosts', api: system.api, token: tokens[0], roomId, count, rate: RATE, run })
          return { ...result, cpu: cpuSeconds(system.push.pid) - cpu }
        }
        await posts('warm', Math.min(100, MESSAGES))
        const few = await posts('few')
        const fan = await fanoutTo(client, { ws: system.ws, pid: system.push.pid }, FEW_SOCKETS - READERS, SOCKETS - READERS, ROUNDS)
        const many = await posts('many')
        await client.run({ cmd: 'trim', count: 0 })
        const base = await fanoutTo(client, { ws: bare.ws, pid: bare.proc.pid, broadcast: bare.broadcast }, FEW_SOCKETS - READERS, SOCKETS - READERS, ROUNDS)
        await client.run({ cmd: 'trim', count: 0 })

        const at = `[${shape}]`
        const [p, q] = [summarize(many.latencies), summarize(few.latencies)]
        const perThousand = (r: { cpu: number }): number => (r.cpu / MESSAGES) * 1000
        const cpuOf = shape === 'procfile' ? 'push' : 'npm start (all services)'
        const kb = (bytes: number): string => `${(bytes / 1024).toFixed(2)} KB`
        rows.push(
          beside(`${at} room post → last of ${READERS} readers p50, ${SOCKETS} sockets (baseline: ${FEW_SOCKETS})`, p.p50, q.p50, ms),
          beside(`${at} room post → last of ${READERS} readers p99, ${SOCKETS} sockets (baseline: ${FEW_SOCKETS})`, p.p99, q.p99, ms, '≤ 20 ms', p.p99 <= 20),
          beside(`${at} ${cpuOf} CPU per 1,000 room posts, ${SOCKETS} sockets (baseline: ${FEW_SOCKETS})`, perThousand(many), perThousand(few), (s) => `${s.toFixed(2)} s`, 'ratio ≤ 1.5', perThousand(many) <= 1.5 * perThousand(few)),
          { figure: `${at} room posts delivered to every reader, missing / refused / seen by non-readers (${SOCKETS}; ${FEW_SOCKETS})`, product: `${many.missing} / ${many.refused} / ${many.leaked}`, baseline: `${few.missing} / ${few.refused} / ${few.leaked}`, goal: '0 / 0 / 0', ok: many.missing + many.refused + many.leaked + few.missing + few.refused + few.leaked === 0 ? 'yes' : 'NO' },
          beside(`${at} broadcast in general to ${SOCKETS} sockets, last socket p50 (baseline: bare ws)`, fan.last.p50, base.last.p50, ms),
          beside(`${at} broadcast in general to ${SOCKETS} sockets, last socket p99 (baseline: bare ws)`, fan.last.p99, base.last.p99, ms, '≤ 250 ms', fan.last.p99 <= 250),
          beside(`${at} RSS per idle socket, ${FEW_SOCKETS} → ${SOCKETS} (baseline: bare ws)`, fan.perSocketBytes, base.perSocketBytes, kb, '≤ 8 KB', fan.perSocketBytes <= 8192),
        )
      } finally {
        await client.stop()
        await system.stop()
        await db.stop()
      }
    } finally {
      await stop(bare.proc)
    }
  }
  return rows
}

if (require.main === module) benchRooms().then((rows) => { printTable(rows); process.exit(0) }, (err) => { console.error(err); process.exit(1) })
