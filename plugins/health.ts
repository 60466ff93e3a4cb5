import fp from 'fastify-plugin'

const Status = { type: 'object', properties: { status: { type: 'string' } }, required: ['status'] } as const

export default fp(async (fastify) => {
  fastify.get('/healthz', { schema: { hide: true, response: { 200: Status } } }, async () => ({ status: 'ok' }))
  // Ready only while the database answers; a down database gives 503 within the pool's connect timeout.
  fastify.get('/readyz', { schema: { hide: true, response: { 200: Status, 503: Status } } }, async (request, reply) => {
    try {
      await fastify.pg.query('SELECT 1')
      return { status: 'ok' }
    } catch (err) {
      request.log.warn({ err }, 'database not ready')
      return reply.code(503).send({ status: 'database unavailable' })
    }
  })
}, { name: 'health', dependencies: ['database'], fastify: '5.x' })
