import fp from 'fastify-plugin'
import { liveWorkers } from '../lib/queries/worker-instances'
import { ping } from '../lib/queries/ping'

const Status = { type: 'object', properties: { status: { type: 'string' } }, required: ['status'] } as const
const WorkerStatus = { type: 'object', properties: { status: { type: 'string' }, workers: { type: 'integer' } }, required: ['status'] } as const

export default fp(async (fastify) => {
  fastify.get('/healthz', { schema: { hide: true, response: { 200: Status } } }, async () => ({ status: 'ok' }))
  // Ready only while the database answers; a down database gives 503 within the pool's connect timeout.
  fastify.get('/readyz', { schema: { hide: true, response: { 200: Status, 503: Status } } }, async (request, reply) => {
    try {
      await ping(fastify.pg)
      return { status: 'ok' }
    } catch (err) {
      request.log.warn({ err }, 'database not ready')
      return reply.code(503).send({ status: 'database unavailable' })
    }
  })
  // Whether queued work gets done: 503 while no worker process is running jobs (none started,
  // all killed, or the database out of reach). Kept apart from /readyz, so a balancer does not take
  // every api instance out, reads included, because the workers are down.
  fastify.get('/readyz/worker', { schema: { hide: true, response: { 200: WorkerStatus, 503: WorkerStatus } } }, async (request, reply) => {
    try {
      const workers = await liveWorkers(fastify.pg)
      if (workers > 0) return { status: 'ok', workers }
      return reply.code(503).send({ status: 'no worker running', workers })
    } catch (err) {
      request.log.warn({ err }, 'database not ready')
      return reply.code(503).send({ status: 'database unavailable' })
    }
  })
}, { name: 'health', dependencies: ['database'], fastify: '5.x' })
