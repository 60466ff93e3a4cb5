import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import { WebSocket } from 'ws'
import type { ConfigInput } from '../../plugins/config'
import { publishEvent, type EventClass } from '../../lib/queries/events'
import { inTransaction } from '../../lib/db'
import { buildPush, type PushOptions } from '../../services/push/app'
import { testEnv, waitFor } from '../helper'
import { PushSocket } from '../../services/api/public/src/push'
import type { ConnectionState } from '../../services/api/public/src/push'
import type { ServerFrame } from '../../services/api/public/src/types'

export interface TestPush { app: FastifyInstance, url: string }

// A push instance listening on a free port, closed when the test ends (unless closed before).
export async function startTestPush (t: Test, overrides: ConfigInput = {}, extra: Omit<PushOptions, 'env'> = {}): Promise<TestPush> {
  const app = await buildPush({ ...extra, env: await testEnv(t, { PUSH_PORT: 0, ...overrides }) })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return { app, url: `ws://127.0.0.1:${port}/ws` }
}

// Publishes an event the way every writer does: in a transaction, NOTIFY on commit.
export async function publish (app: FastifyInstance, cls: EventClass, model: object): Promise<number> {
  return Number(await inTransaction(app.pg, (client) => publishEvent(client, cls, model)))
}

export interface Frame { type: string, seq?: number, class?: string, model?: Record<string, unknown>, ref?: unknown, error?: string, task?: string }

// A real WebSocket client that queues what it receives, for tests to await in order.
export class TestClient {
  readonly frames: Frame[] = []
  private cursor = 0
  private waiters: Array<() => void> = []
  readonly closed: Promise<{ code: number, reason: string }>
  readonly opened: Promise<void>

  constructor (readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame)
      this.wake()
    })
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => {
      this.wake()
      resolve({ code, reason: reason.toString() })
    }))
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)))
      ws.once('error', reject)
    })
    ws.on('error', () => {})
  }

  private wake (): void {
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }

  // The next frame not yet taken; fails after `ms`.
  async next (ms = 5000): Promise<Frame> {
    const deadline = Date.now() + ms
    while (this.cursor >= this.frames.length) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('socket closed while waiting for a frame')
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no frame within ${ms} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
    return this.frames[this.cursor++]
  }

  // Takes frames until one matches.
  async nextMatching (match: (frame: Frame) => boolean, ms = 5000): Promise<Frame> {
    const deadline = Date.now() + ms
    const skipped: Frame[] = []
    for (;;) {
      let frame: Frame
      try {
        frame = await this.next(Math.max(1, deadline - Date.now()))
      } catch (err) {
        throw new Error(`${(err as Error).message}; skipped ${JSON.stringify(skipped).slice(0, 2000)}`)
      }
      if (match(frame)) return frame
      skipped.push(frame)
    }
  }

  // Frames that arrive within `ms`, for asserting that nothing (more) comes.
  async drain (ms: number): Promise<Frame[]> {
    await new Promise((resolve) => setTimeout(resolve, ms))
    const rest = this.frames.slice(this.cursor)
    this.cursor = this.frames.length
    return rest
  }

  send (frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  close (): Promise<{ code: number, reason: string }> {
    this.ws.close()
    return this.closed
  }
}

export async function connect (t: Test, url: string, options: { since?: number, origin?: string, host?: string } = {}): Promise<TestClient> {
  const target = options.since === undefined ? url : `${url}?since=${options.since}`
  const headers = { ...(options.origin === undefined ? {} : { origin: options.origin }), ...(options.host === undefined ? {} : { host: options.host }) }
  const client = new TestClient(new WebSocket(target, { headers }))
  t.teardown(() => { client.ws.terminate() })
  await client.opened
  return client
}

export interface PageSocket { socket: PushSocket, errors: ServerFrame[], state: () => ConnectionState }

// The web client's socket (services/api/public/src/push.ts) run as the page runs it, stopped when the
// test ends: Node has WebSocket, and only the bits of `window` it uses are given here.
export function pageSocket (t: Test, url: string, token: string): PageSocket {
  if (!('window' in globalThis)) Object.assign(globalThis, { window: { addEventListener: () => {}, setTimeout, clearTimeout } })
  const errors: ServerFrame[] = []
  let state: ConnectionState = 'connecting'
  const socket = new PushSocket({
    url,
    onOpen: () => {},
    onState: (s) => { state = s },
    onFrame: (frame) => { if (frame.type === 'error') errors.push(frame) },
  })
  t.teardown(() => socket.stop())
  socket.start(token)
  return { socket, errors, state: () => state }
}
