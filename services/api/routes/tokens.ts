import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import { markUsersOffline } from '../../../lib/presence'
import { userChanged, userWentOffline } from '../../../lib/auth-cache'
import { NoContent, errors } from '../schemas'

export default async function tokens (fastify: FastifyInstance): Promise<void> {
  fastify.post('/api/tokens', {
    preHandler: fastify.authenticateBasic,
    schema: {
      summary: 'Sign in with Basic auth; returns a Bearer token',
      security: [{ basic: [] }],
      response: { 200: Type.Object({ token: Type.String() }), ...errors(401, 429) },
    },
  }, async (request) => ({ token: await fastify.issueToken(request.currentUser!.id) }))

  fastify.delete('/api/tokens', {
    preHandler: fastify.authenticate,
    schema: { summary: 'Sign out: revoke the token used', response: { 204: NoContent, ...errors(401) } },
  }, async (request, reply) => {
    await fastify.revokeToken(request.tokenId!)
    // Signing out ends presence unless a live push connection still holds the user.
    const userId = request.currentUser!.id
    await markUsersOffline(fastify.prisma, { userIds: [userId], liveWithinSeconds: fastify.config.OFFLINE_AFTER_SECONDS })
    fastify.authCache.forget(userChanged(userId))
    fastify.authCache.forget(userWentOffline(userId))
    return reply.code(204).send()
  })
}
