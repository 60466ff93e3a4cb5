import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'

export default async function stats (fastify: FastifyInstance): Promise<void> {
  fastify.get('/stats', {
    schema: {
      summary: 'Requests per second served by this api process over the stats window',
      response: { 200: Type.Object({ requests_per_second: Type.Number() }) },
    },
  }, async () => ({ requests_per_second: Math.round(fastify.requestRate.perSecond() * 100) / 100 }))
}
