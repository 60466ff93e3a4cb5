import type { FastifyInstance } from 'fastify'
import { Type } from '../../../lib/typebox'
import { markUsersOffline } from '../../../lib/queries/presence'
import { userChanged, userWentOffline } from '../../../lib/auth-cache'
import { BODY_ERRORS, SECURITY, TOKEN_REQUIRED, errors, noContent } from '../responses'

export default async function tokens (fastify: FastifyInstance): Promise<void> {
  fastify.post('/api/tokens', {
    preHandler: fastify.authenticateBasic,
    schema: {
      operationId: 'createToken',
      tags: ['tokens'],
      summary: 'Sign in: a Bearer token for a nickname and password',
      description: 'Basic auth (nickname:password). Failed logins are limited per client address and nickname together (LOGIN_FAILURES_PER_NICKNAME) and per client address (LOGIN_FAILURES_PER_ADDRESS, an IPv6 address by its /64) per LOGIN_FAILURE_WINDOW_SECONDS: past a limit, that address is answered 429 with Retry-After until the window moves on, a right password included. A nickname is never refused: past LOGIN_FAILURES_PER_NICKNAME failures from all addresses, its logins are checked one at a time, LOGIN_NICKNAME_DELAY_MS apart; an address with failures whose turn is more than 10 delays away gets 429.',
      security: SECURITY.basic,
      response: {
        200: Type.Object({ token: Type.String({ description: 'Send as `Authorization: Bearer <token>`; valid for TOKEN_TTL_SECONDS (a day by default) or until revoked' }) }, { description: 'Signed in: the user is now online' }),
        ...errors(...BODY_ERRORS, {
          401: 'No Basic credentials, or a wrong nickname or password',
          429: 'Too many failed logins from this address (for this nickname, or in all), or a long queue on a nickname under attack',
        }),
      },
    },
  }, async (request, reply) => {
    // A token is a credential: no cache may keep it (RFC 6749 §5.1).
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    return { token: await fastify.issueToken(request.currentUser!.id) }
  })

  fastify.delete('/api/tokens', {
    preHandler: fastify.authenticate,
    schema: {
      operationId: 'revokeToken',
      tags: ['tokens'],
      summary: 'Sign out: revoke the token used',
      description: 'The token stops working on every api and push process at once. The user goes offline unless a push connection still holds them.',
      security: SECURITY.token,
      response: { 204: noContent('Revoked'), ...errors(...BODY_ERRORS, { 401: TOKEN_REQUIRED }) },
    },
  }, async (request, reply) => {
    await fastify.revokeToken(request.tokenId!)
    // Signing out ends presence unless a live push connection still holds the user.
    const userId = request.currentUser!.id
    await markUsersOffline(fastify.pg, { userIds: [userId], liveWithinSeconds: fastify.config.OFFLINE_AFTER_SECONDS })
    fastify.authCache.forget(userChanged(userId))
    fastify.authCache.forget(userWentOffline(userId))
    return reply.code(204).send()
  })
}
