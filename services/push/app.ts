import type { FastifyInstance } from 'fastify'
import websocket from '@fastify/websocket'
import { Type } from '../../lib/typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { WebSocket } from 'ws'
import { buildService, type ServiceOptions } from '../../lib/service'
import { httpError } from '../../plugins/errors'
import { EventStream } from '../../lib/stream/stream'
import { InstancePresence } from './presence'
import { Typing } from './typing'
import { PushConnection } from './connection'
import type { PushContext } from './context'
import { GOING_AWAY } from './socket-writer'
import { watchRevocations } from './revocations'
import { originCheck } from './origins'
import { SocketsPerAddress } from './address-cap'
import type { MessagePosting } from './posting'
import { queueRoomPost, validateMessageSource } from '../../lib/tasks'

export interface PushOptions extends ServiceOptions {
  // How post_message frames reach the worker; by default the worker's own posting function.
  posting?: MessagePosting
  // The newest events held in memory for replays (a reconnect storm then costs no queries).
  replayMemory?: { frames: number, bytes: number }
  // At most one typing notice per user and room this often (3 s by default).
  typingIntervalMs?: number
}

// At most a quarter of a socket's buffer limit, as the database replay's pages: written at once, a
// replay from memory can never get its client closed as slow.
const replayMemory = (maxBufferBytes: number): { frames: number, bytes: number } => ({ frames: 1000, bytes: Math.floor(maxBufferBytes / 4) })

// Sockets still open this long after the 1001 close frames were sent are cut.
const SHUTDOWN_GRACE_MS = 2000

declare module 'fastify' {
  interface FastifyInstance {
    // This instance's push state, for its own tests and stats.
    push: { stream: EventStream, presence: InstancePresence, connections: Set<PushConnection>, sockets: SocketsPerAddress, context: PushContext }
  }
}

// post_message frames take the API's path: same validation, same task row and post_message job.
function workerPosting (app: FastifyInstance): MessagePosting {
  return {
    invalidSource: (source) => {
      try {
        validateMessageSource(source, app.config.MESSAGE_MAX_LENGTH)
        return null
      } catch (err) {
        return (err as Error).message
      }
    },
    post: (userId, source, roomId, key) => queueRoomPost(app.pg, userId, source, roomId, key),
  }
}

// The push service: a WebSocket at /ws streaming the event log; returns an app that has not started listening.
export async function buildPush (options: PushOptions): Promise<FastifyInstance> {
  const base = await buildService(options, 'push')
  const app = base.withTypeProvider<TypeBoxTypeProvider>()
  const { config, log } = app

  const stream = new EventStream(app.pg, app.notifications, log, options.replayMemory ?? replayMemory(config.PUSH_MAX_BUFFER_BYTES))
  const presence = new InstancePresence(app.pg, { offlineAfterSeconds: config.OFFLINE_AFTER_SECONDS }, log)
  const typing = new Typing(app.pg, app.notifications, stream, log, options.typingIntervalMs)
  const ctx: PushContext = {
    stream,
    presence,
    typing,
    pool: app.pg,
    log,
    userForToken: async (token) => {
      const found = await app.userForToken(token)
      // Verified just now, so its claims can be read as they are: `exp` ends the view it gives.
      return found === null ? null : { ...found, expiresAt: (app.jwt.decode<{ exp: number }>(token)?.exp ?? 0) * 1000 }
    },
    markSeen: (user) => app.markSeen(user),
    posting: options.posting ?? workerPosting(app),
    maxBufferBytes: config.PUSH_MAX_BUFFER_BYTES,
    framesPerSecond: config.PUSH_FRAMES_PER_SECOND,
    heartbeatMs: config.PUSH_HEARTBEAT_SECONDS * 1000,
    connections: new Set(),
    closing: false,
  }
  // Behind a proxy with TRUST_PROXY, request.ip is the forwarded client address.
  const sockets = new SocketsPerAddress(config.PUSH_MAX_SOCKETS_PER_ADDRESS)
  app.decorate('push', { stream, presence, connections: ctx.connections, sockets, context: ctx })

  const stopRevoking = watchRevocations(ctx.connections, stream, app.pg, app.notifications, log)
  app.addHook('onClose', async () => { stopRevoking() })

  const allowedOrigin = originCheck(config, () => {
    const address = app.server.address()
    return typeof address === 'object' && address !== null ? address.port : config.PUSH_PORT
  })

  await app.register(websocket, {
    options: { maxPayload: config.PUSH_MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false },
    // A broken socket (a protocol error already answered with its close code, a reset) only ends itself.
    errorHandler: (err, socket) => {
      log.debug({ err }, 'push: socket error')
      if (socket.readyState === WebSocket.OPEN) socket.terminate()
    },
    // Shutdown: 1001 tells clients to reconnect (elsewhere) with `since`; stragglers are cut.
    preClose: async () => {
      ctx.closing = true
      const open = [...ctx.connections].map((connection) => new Promise<void>((resolve) => {
        connection.socket.once('close', () => resolve())
        connection.close(GOING_AWAY, 'Server shutting down')
      }))
      const grace = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref())
      await Promise.race([Promise.all(open), grace])
      for (const connection of ctx.connections) connection.socket.terminate()
      app.websocketServer.close()
    },
  })

  const onSocketError = function (this: WebSocket, err: Error): void {
    log.debug({ err }, 'push: socket error')
    if (this.readyState === WebSocket.OPEN) this.terminate()
  }

  app.get('/ws', {
    websocket: true,
    schema: {
      querystring: Type.Object({
        // The seq of the last event the client has; the stream resumes after it.
        since: Type.Optional(Type.String({ pattern: '^(0|[1-9][0-9]{0,14})$' })),
        // 1: the first frame will be a ping_user, and the stream (replay included) is in that user's view.
        auth: Type.Optional(Type.Literal('1')),
      }),
    },
    onRequest: async (request) => {
      if (!allowedOrigin(request.headers.origin, request.headers.host)) throw httpError(403, 'Origin not allowed')
      // Refused before the upgrade; the slot is held until the connection closes.
      if (request.ws && !sockets.take(request.ip, request.raw.socket)) {
        throw httpError(429, `Too many sockets from this address: at most ${sockets.max}`)
      }
    },
  }, (socket, request) => {
    // Replaces the plugin's per-socket listener, whose closure would keep the request alive,
    // and lets go of the HTTP response the upgrade was routed with (an idle socket stays small).
    socket.removeAllListeners('error')
    socket.on('error', onSocketError)
    const tcp = request.raw.socket as typeof request.raw.socket & { _httpMessage?: { detachSocket?: (s: unknown) => void } | null }
    tcp._httpMessage?.detachSocket?.(tcp)
    if (ctx.closing) {
      socket.close(GOING_AWAY, 'Server shutting down')
      return
    }
    const { since, auth } = request.query as { since?: string, auth?: string }
    new PushConnection(socket, ctx).start(since === undefined ? undefined : Number(since), auth === '1')
  })

  // Dead peers (no pong within one period) are dropped, so they stop holding their users online.
  let heartbeat: NodeJS.Timeout | undefined
  app.addHook('onReady', async () => {
    try {
      await stream.start()
      typing.start()
      await presence.start()
    } catch (err) {
      typing.close()
      await stream.close()
      throw err
    }
    heartbeat = setInterval(() => {
      for (const connection of ctx.connections) {
        if (!connection.alive) {
          connection.socket.terminate()
          continue
        }
        connection.alive = false
        connection.socket.ping()
      }
    }, ctx.heartbeatMs)
    heartbeat.unref()
  })
  app.addHook('onClose', async () => {
    clearInterval(heartbeat)
    typing.close()
    await stream.close()
    await presence.stop()
  })
  return base
}
