import type { FastifyInstance } from 'fastify'
import { Type } from '../../../lib/typebox'
import { SECURITY, errors } from '../responses'

export default async function stats (fastify: FastifyInstance): Promise<void> {
  fastify.get('/stats', {
    schema: {
      operationId: 'getStats',
      tags: ['service'],
      summary: 'Requests per second served by this api process over the stats window',
      description: 'Counts every request this process received (this one included) over the last REQUEST_STATS_WINDOW_SECONDS (15 by default). Each process counts its own.',
      security: SECURITY.none,
      response: { 200: Type.Object({ requests_per_second: Type.Number() }, { description: 'The rate, rounded to two decimals' }), ...errors() },
    },
  }, async () => ({ requests_per_second: Math.round(fastify.requestRate.perSecond() * 100) / 100 }))
}
