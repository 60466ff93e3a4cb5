// The push benchmark's load client: its own process (forked by bench/push.ts), so its sockets
// and its CPU are not the push server's. Driven over IPC, one command at a time.
import { performance } from 'node:perf_hooks'
import { WebSocket, type RawData } from 'ws'
import { Pool } from 'undici'
import { FrameReader } from './frame-reader'
import { createDatabase, type Database } from '../plugins/database'
import { publishEvent } from '../lib/queries/events'
import { inTransaction } from '../lib/db'

export type Command =
  | { cmd: 'open', url: string, count: number }
  | { cmd: 'trim', count: number }
  | { cmd: 'fanout', rounds: number, broadcast?: string }
  | { cmd: 'readers', url: string, tokens: string[] }
  | { cmd: 'roomPosts', api: string, token: string, roomId: number, count: number, rate: number, run: string }
  | { cmd: 'stream', url: string, token: string, rate: number, seconds: number, warmup: number }
  | { cmd: 'storm', url: string, count: number, replay: boolean }
  | { cmd: 'exit' }

export interface StormResult { ready: number[], live: number[] }
export interface RoomPostsResult { latencies: number[], missing: number, leaked: number, refused: number, seconds: number }

const OPEN_IN_FLIGHT = 500
const POSTS_PER_SOCKET = 10
const databaseUrl = process.argv[2]
let db: Database | null = null
const database = (): Database => (db ??= createDatabase({ DATABASE_URL: databaseUrl, DATABASE_POOL_SIZE: 4 }))

// The listening sockets only read: a lean reader, not `ws` (see frame-reader.ts).
const sockets: FrameReader[] = []
// What incoming frames feed: set per measurement.
let onFrame: (data: Buffer, at: number) => void = () => {}
const received = (data: Buffer, at: number): void => onFrame(data, at)

async function openOne (url: string): Promise<void> {
  sockets.push(await FrameReader.connect(url, received))
}

async function open (url: string, count: number): Promise<void> {
  while (sockets.length < count) {
    const batch = Math.min(OPEN_IN_FLIGHT, count - sockets.length)
    await Promise.all(Array.from({ length: batch }, () => openOne(url)))
  }
  for (const socket of sockets) socket.onClose(() => { if (!closing) console.error('push-client: a socket closed unexpectedly') })
}
let closing = false

async function trim (count: number): Promise<void> {
  closing = true
  const extra = sockets.splice(count)
  await Promise.all(extra.map((socket) => socket.close()))
  closing = false
}

const publish = (model: object): Promise<bigint> => inTransaction(database().pool, (client) => publishEvent(client, 'Message', model))

let tagged = 0
// Publishes one event, timed from just before its transaction until every open socket has it
// (null after 5 s); `each` hears each arrival. The tag's closing quote keeps "x 1" from matching "x 10".
// With `broadcast`, the event is the bare `ws` baseline's: POSTed to it, the same bytes the push service would send.
async function toEverySocket (kind: string, each: (ms: number) => void = () => {}, broadcast?: string): Promise<number | null> {
  const source = `bench-${kind} ${tagged++}`
  const tag = Buffer.from(`"${source}"`)
  let count = 0
  const t0 = performance.now()
  const done = new Promise<number>((resolve) => {
    onFrame = (data, at) => {
      if (data.indexOf(tag) === -1) return
      each(at - t0)
      if (++count === sockets.length) resolve(at - t0)
    }
  })
  if (broadcast === undefined) {
    await publish({ id: tagged, source })
  } else {
    const model = JSON.stringify({ id: tagged, source })
    await fetch(broadcast, { method: 'POST', body: `{"type":"updated_model","seq":${tagged},"class":"Message","model":${model}}` })
  }
  let timer: NodeJS.Timeout | undefined
  const last = await Promise.race([done, new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), 5000) })])
  clearTimeout(timer)
  onFrame = () => {}
  return last
}

// One event per round to every socket: the time until the last socket has it, and each arrival.
async function fanout (rounds: number, broadcast?: string): Promise<{ last: number[], each: number[] }> {
  const last: number[] = []
  const each: number[] = []
  // Round 0 warms up (the first transaction connects and prepares); it is not counted.
  for (let round = 0; round <= rounds; round++) {
    const ms = await toEverySocket('fanout', (arrival) => { if (round > 0) each.push(arrival) }, broadcast)
    if (ms === null) throw new Error(`fan-out round ${round}: not every socket got the event`)
    if (round > 0) last.push(ms)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return { last, each }
}

// `rate` messages a second for `seconds`, posted as post_message frames, each timed from its post to its arrival at every socket.
// The first `warmup` seconds of them are sent the same way but not timed (connections, caches, JIT).
async function stream (url: string, token: string, rate: number, seconds: number, warmup: number): Promise<{ latencies: number[], first: number[], expected: number, sent: number }> {
  const untimed = rate * warmup
  const total = untimed + rate * seconds
  const sentAt = new Float64Array(total).fill(-1)
  // When each message reached its first socket: the worker's part, without the fan-out's.
  const firstAt = new Float64Array(total).fill(-1)
  const latencies: number[] = []
  // The message number follows the marker in the frame; read without decoding the frame.
  const marker = Buffer.from('"bench-stream ')
  onFrame = (data, at) => {
    let p = data.indexOf(marker)
    if (p === -1) return
    p += marker.length
    let i = 0
    for (let c = data[p]; c >= 48 && c <= 57; c = data[++p]) i = i * 10 + c - 48
    if (!(sentAt[i] >= 0) || i < untimed) return // not one of ours, not sent yet, or warming up
    latencies.push(at - sentAt[i])
    if (firstAt[i] < 0) firstAt[i] = at
  }
  // Several posting sockets, each well within the server's per-connection frame rate.
  const posters: WebSocket[] = []
  for (let i = 0; i < Math.ceil(rate / POSTS_PER_SOCKET); i++) {
    const poster = new WebSocket(url, { perMessageDeflate: false })
    await new Promise((resolve, reject) => { poster.once('open', resolve); poster.once('error', reject) })
    poster.on('message', (data: RawData) => {
      const text = data.toString()
      if (text.includes('"type":"error"')) console.error(`push-client: post failed: ${text}`)
    })
    posters.push(poster)
  }
  const start = performance.now()
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    sentAt[i] = performance.now()
    const source = `bench-stream ${i}`
    posters[i % posters.length].send(JSON.stringify({ type: 'post_message', token, source, ref: i }))
  }
  const expected = (total - untimed) * sockets.length
  const deadline = performance.now() + 10000
  while (latencies.length < expected && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  onFrame = () => {}
  for (const poster of posters) poster.close()
  const first = Array.from(firstAt, (at, i) => at - sentAt[i]).filter((ms) => ms >= 0)
  return { latencies, first, expected, sent: total - untimed }
}

// Sockets tied by ping_user, one per token (user): a private room's readers. Their frames go to onReaderFrame.
const readers: FrameReader[] = []
let onReaderFrame: (data: Buffer, at: number) => void = () => {}

async function openReaders (url: string, tokens: string[]): Promise<void> {
  for (let i = 0; i < tokens.length; i += OPEN_IN_FLIGHT) {
    await Promise.all(tokens.slice(i, i + OPEN_IN_FLIGHT).map(async (token, j) => {
      const ack = Buffer.from(`"ref":"r${i + j}"`)
      let acked: () => void = () => {}
      const tied = new Promise<void>((resolve) => { acked = resolve })
      const reader = await FrameReader.connect(url, (data, at) => {
        if (data.indexOf(ack) !== -1) acked()
        else onReaderFrame(data, at)
      })
      reader.sendText(JSON.stringify({ type: 'ping_user', token, ref: `r${i + j}` }))
      await tied
      readers.push(reader)
    }))
  }
}

// `count` messages POSTed into a private room at an even `rate`, each timed from its POST until
// the last reader socket has it; the other (anonymous) sockets must get none of them.
async function roomPosts ({ api, token, roomId, count, rate, run }: { api: string, token: string, roomId: number, count: number, rate: number, run: string }): Promise<RoomPostsResult> {
  const sentAt = new Float64Array(count).fill(-1)
  const got = new Uint16Array(count)
  const latencies: number[] = []
  let leaked = 0
  let refused = 0
  const marker = Buffer.from(`"bench-room ${run} `)
  const number = (data: Buffer): number => {
    let p = data.indexOf(marker)
    if (p === -1) return -1
    p += marker.length
    let i = 0
    for (let c = data[p]; c >= 48 && c <= 57; c = data[++p]) i = i * 10 + c - 48
    return i
  }
  onReaderFrame = (data, at) => {
    const i = number(data)
    if (i < 0 || i >= count || sentAt[i] < 0) return
    if (++got[i] === readers.length) latencies.push(at - sentAt[i])
  }
  onFrame = (data) => { if (number(data) >= 0) leaked++ }
  const pool = new Pool(api, { connections: 64 })
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const inFlight: Array<Promise<void>> = []
  const start = performance.now()
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / rate - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    sentAt[i] = performance.now()
    inFlight.push(pool.request({ path: `/api/rooms/${roomId}/messages`, method: 'POST', headers, body: JSON.stringify({ source: `bench-room ${run} ${i}` }) })
      .then(async (res) => { await res.body.dump(); if (res.statusCode !== 202) refused++ }, () => { refused++ }))
  }
  await Promise.all(inFlight)
  const deadline = performance.now() + 10000
  while (latencies.length < count - refused && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  const seconds = (performance.now() - start) / 1000
  onReaderFrame = () => {}
  onFrame = () => {}
  await pool.close()
  return { latencies, missing: count - refused - latencies.length, leaked, refused, seconds }
}

const STORM_HISTORY = 50

// `count` sockets connect at once, as when another instance shuts down; with `replay`, each asks
// for the last STORM_HISTORY events. Timed: each until it has them (or is open), and meanwhile
// live events, one at a time, until every socket already open has each.
async function storm (url: string, count: number, replay: boolean): Promise<StormResult> {
  const marker = Buffer.from('"bench-history"')
  const first = Number(await publish({ id: 0, source: 'bench-history' }))
  for (let i = 1; i < STORM_HISTORY; i++) await publish({ id: i, source: 'bench-history' })
  const target = replay ? `${url}?since=${first - 1}` : url
  const ready: number[] = []
  const arrivals: FrameReader[] = []
  const t0 = performance.now()
  const connecting = (async () => {
    const one = async (): Promise<void> => {
      let got = 0
      const reader = await FrameReader.connect(target, (data, at) => {
        if (data.indexOf(marker) !== -1 && ++got === STORM_HISTORY) ready.push(at - t0)
      })
      if (!replay) ready.push(performance.now() - t0)
      arrivals.push(reader)
    }
    for (let opened = 0; opened < count; opened += OPEN_IN_FLIGHT) {
      await Promise.all(Array.from({ length: Math.min(OPEN_IN_FLIGHT, count - opened) }, one))
    }
  })()
  // Held until the live loop ends, so a failed connect must not go unhandled meanwhile.
  let failed: Error | null = null
  connecting.catch((err: Error) => { failed = err })
  try {
    return { ready, live: await liveWhile(() => failed === null && ready.length < count && performance.now() - t0 < 30000) }
  } finally {
    await connecting.catch(() => {})
    await Promise.all(arrivals.map((reader) => reader.close()))
    if (failed !== null) throw failed
  }
}

// Live events, one at a time, each timed until every socket already open has it, while `go()`.
async function liveWhile (go: () => boolean): Promise<number[]> {
  const live: number[] = []
  while (go()) {
    const ms = await toEverySocket('live')
    if (ms !== null) live.push(ms)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return live
}

async function handle (command: Command): Promise<unknown> {
  switch (command.cmd) {
    case 'open': await open(command.url, command.count); return { open: sockets.length }
    case 'trim': await trim(command.count); return { open: sockets.length }
    case 'fanout': return fanout(command.rounds, command.broadcast)
    case 'readers': await openReaders(command.url, command.tokens); return { readers: readers.length }
    case 'roomPosts': return roomPosts(command)
    case 'stream': return stream(command.url, command.token, command.rate, command.seconds, command.warmup)
    case 'storm': return storm(command.url, command.count, command.replay)
    case 'exit':
      closing = true
      for (const socket of [...sockets, ...readers]) socket.terminate()
      await db?.close()
      setImmediate(() => process.exit(0))
      return {}
  }
}

process.on('message', (command: Command) => {
  handle(command).then((result) => process.send!({ ok: true, result }), (err: Error) => process.send!({ ok: false, error: err.message }))
})
process.send!({ ready: true })
