import type { FastifyInstance } from 'fastify'
import { Type } from '../../../lib/typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { hashPassword } from '../../../lib/passwords'
import { httpError } from '../../../plugins/errors'
import { userJson, userUrl } from '../../../lib/models'
import { publishUser } from '../../../lib/events'
import { userChanged } from '../../../lib/auth-cache'
import { inTransaction } from '../../../lib/db'
import { insertUser, isNicknameTaken, listUsers, updateUser, userById, userExists } from '../../../lib/queries/users'
import { IdParams, Nickname, Password, UnixTime } from '../schemas'
import { BODY_ERRORS, PARAM_ERRORS, SECURITY, TOKEN_REQUIRED, errors, location, noContent, userRef } from '../responses'

export default async function users (app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>()
  const db = fastify.pg
  const refreshMs = fastify.config.PRESENCE_REFRESH_SECONDS * 1000

  fastify.post('/api/users', {
    schema: {
      operationId: 'createUser',
      tags: ['users'],
      summary: 'Register a user',
      description: 'Open to anyone. The nickname is 1-32 visible characters (no spaces) and unique; the password 8-256 characters.',
      security: SECURITY.none,
      body: Type.Object({ nickname: Nickname, password: Password }, { additionalProperties: false }),
      response: {
        201: userRef('The new user', location('the user')),
        ...errors(...BODY_ERRORS, { 400: 'Invalid request (a field missing or breaking its rule, or not JSON), or the nickname is already taken' }),
      },
    },
  }, async (request, reply) => {
    const { nickname, password } = request.body
    const passwordHash = await hashPassword(password)
    try {
      const user = await inTransaction(db, async (client) => {
        const created = await insertUser(client, nickname, passwordHash)
        await publishUser(client, created)
        return created
      })
      return reply.code(201).header('location', userUrl(user.id)).send(userJson(user))
    } catch (err) {
      if (isNicknameTaken(err)) throw httpError(400, 'Nickname is already taken')
      throw err
    }
  })

  fastify.get('/api/users', {
    preHandler: fastify.authenticateOptional,
    schema: {
      operationId: 'listUsers',
      tags: ['users'],
      summary: 'List users, least recently updated first',
      description: '`online=1` (or 0) keeps only online (offline) users; `updated_since=T` keeps users updated strictly after T. A valid token marks its user online first, so it is listed as online.',
      security: SECURITY.optionalToken,
      querystring: Type.Object({
        online: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1)])),
        updated_since: Type.Optional(UnixTime),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ users: Type.Array(userRef()) }, { description: 'The users, ordered by updated_at, then nickname' }), ...errors(400, 401) },
    },
  }, async (request) => {
    const { online, updated_since: since } = request.query
    const rows = await listUsers(db, { online: online === undefined ? undefined : online === 1, updatedSince: since })
    return { users: rows.map(userJson) }
  })

  fastify.get('/api/users/:id', {
    preHandler: fastify.authenticateOptional,
    schema: {
      operationId: 'getUser',
      tags: ['users'],
      summary: 'One user',
      security: SECURITY.optionalToken,
      params: IdParams,
      response: { 200: userRef('The user'), ...errors(...PARAM_ERRORS, 401, { 404: 'No user has this id' }) },
    },
  }, async (request) => {
    // The hottest read of the API: served from the process's cache (dropped on every change
    // of the user, so only last_seen_at can lag, by at most the presence refresh interval).
    const { id } = request.params
    const cached = fastify.authCache.user(id, refreshMs)
    if (cached !== undefined) return userJson(cached)
    const epoch = fastify.authCache.epoch
    const user = await userById(db, id)
    if (user === null) throw httpError(404, 'User not found')
    fastify.authCache.rememberUser(user, epoch)
    return userJson(user)
  })

  fastify.put('/api/users/:id', {
    preHandler: fastify.authenticate,
    schema: {
      operationId: 'updateUser',
      tags: ['users'],
      summary: 'Change your nickname or password',
      description: 'Only your own account. A new password revokes all your tokens, the one used included.',
      security: SECURITY.token,
      params: IdParams,
      body: Type.Object({ nickname: Type.Optional(Nickname), password: Type.Optional(Password) }, { additionalProperties: false, minProperties: 1 }),
      response: {
        204: noContent('Changed'),
        ...errors(...BODY_ERRORS, ...PARAM_ERRORS, {
          400: 'Invalid request (no field, a field breaking its rule, or not JSON), or the nickname is already taken',
          401: TOKEN_REQUIRED,
          403: 'The account is someone else\'s',
          404: 'No user has this id',
        }),
      },
    },
  }, async (request, reply) => {
    const { id } = request.params
    if (!await userExists(db, id)) throw httpError(404, 'User not found')
    if (id !== request.currentUser?.id) throw httpError(403, 'You can only change your own account')
    const { nickname, password } = request.body
    const passwordHash = password === undefined ? undefined : await hashPassword(password)
    try {
      await inTransaction(db, async (client) => {
        const user = await updateUser(client, id, { nickname, passwordHash })
        // Deleted since the check above: nothing left to change.
        if (user === null) return
        if (passwordHash !== undefined) await fastify.revokeUserTokens(client, id)
        await publishUser(client, user)
      })
    } catch (err) {
      if (isNicknameTaken(err)) throw httpError(400, 'Nickname is already taken')
      throw err
    }
    fastify.authCache.forget(userChanged(id))
    return reply.code(204).send(null)
  })
}
