import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '../../../lib/typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { httpError } from '../../../plugins/errors'
import { IDEMPOTENCY_KEY_PATTERN, messageJson } from '../../../lib/models'
import { editableMessageAuthor, messagesSince, readableMessage } from '../../../lib/queries/messages'
import { queueEditMessage, queueRoomPost, validateMessageSource } from '../../../lib/tasks'
import { GENERAL_ROOM_ID } from '../../../lib/queries/access'
import { mustRead } from '../room-access'
import { Id, IdParams, UnixTime } from '../schemas'
import { BODY_ERRORS, PARAM_ERRORS, SECURITY, TOKEN_REQUIRED, editTaskResponses, errors, messageRef, noContent, postTaskResponses } from '../responses'
import { deleteMessage } from '../../../lib/message-delete'
import { PreferHeaders, replyWithTask } from './tasks'
import { HISTORY_SECONDS } from '../message-window'
import { LIST_HEADERS, ListHeaders, NOT_MODIFIED, replyFromCache } from '../message-cache'

// A post may name itself: a repeat with the same key (a retry after a lost answer) is the first post's task.
const PostHeaders = Type.Object({
  ...PreferHeaders.properties,
  'idempotency-key': Type.Optional(Type.String({
    pattern: IDEMPOTENCY_KEY_PATTERN,
    description: 'Up to 128 visible ASCII characters, chosen by the client per message: a repeated post with the same key, source and room by the same user queues nothing and answers with the first post\'s task (same Location); the same key with another source or room is a 422',
  })),
})

// A post's answers, plus the room that is missing or not the poster's to read.
const roomPostResponses = {
  ...postTaskResponses,
  ...errors({
    404: 'No room the caller may read has this id (a private room of others is as missing as one never made)',
    422: 'The Idempotency-Key was already used by this user for another source or room; nothing is queued',
  }),
}

export default async function messages (app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>()
  const { config } = fastify
  const SourceBody = Type.Object({ source: Type.String({ minLength: 1, maxLength: config.MESSAGE_MAX_LENGTH }) }, { additionalProperties: false })

  // Checks the room and queues the post; a public room not yet joined is joined first (general: everyone is a member).
  async function post (request: FastifyRequest, reply: FastifyReply, roomId: number, source: unknown): Promise<FastifyReply> {
    const text = validateMessageSource(source, config.MESSAGE_MAX_LENGTH)
    const userId = request.currentUser!.id
    const key = request.headers['idempotency-key'] as string | undefined
    const posted = await queueRoomPost(fastify.pg, userId, text, roomId, key)
    if ('error' in posted) throw httpError(posted.status, posted.error)
    return replyWithTask(app, request, reply, posted.taskId, true)
  }

  fastify.post('/api/messages', {
    preHandler: fastify.authenticate,
    schema: {
      operationId: 'postMessage',
      tags: ['messages'],
      summary: 'Post a message',
      description: 'Into the room `general`, or into `room_id` (a room the caller may read, else 404 as for a missing room, before anything is queued; a public room not yet joined is joined). The source is checked (a string, not blank, no NUL, at most MESSAGE_MAX_LENGTH characters), then a task is queued: 202 with its Location. With `Prefer: wait=N` (N at most 10) the request is held until the task ends, and answers 201 with the message when it does in time; the task ends 404 if the caller may no longer read the room when the message is stored. The message is rendered from Markdown; link previews are added afterwards and pushed as an update.',
      security: SECURITY.token,
      headers: PostHeaders,
      body: Type.Object({ ...SourceBody.properties, room_id: Type.Optional(Id) }, { additionalProperties: false }),
      response: roomPostResponses,
    },
  }, async (request, reply) => post(request, reply, request.body.room_id ?? GENERAL_ROOM_ID, request.body.source))

  fastify.post('/api/rooms/:id/messages', {
    preHandler: fastify.authenticate,
    schema: {
      operationId: 'postRoomMessage',
      tags: ['messages'],
      summary: 'Post a message into a room',
      description: 'As `POST /api/messages` with `room_id`: the room must be readable by the caller (else 404, exactly as for a missing room, and nothing is queued); posting into a public room not yet joined joins it.',
      security: SECURITY.token,
      params: IdParams,
      headers: PostHeaders,
      body: SourceBody,
      response: roomPostResponses,
    },
  }, async (request, reply) => post(request, reply, request.params.id, request.body.source))

  fastify.get('/api/messages', {
    preHandler: fastify.authenticateOptional,
    schema: {
      operationId: 'listMessages',
      tags: ['messages'],
      summary: 'Messages of the last 24 hours, least recently updated first',
      description: 'The room `general`\'s messages (`room_id` for another room the caller may read; else 404 as for a missing room). `updated_since=T` keeps messages updated strictly after T; `user_id` keeps one user\'s. Never older than 24 hours.',
      security: SECURITY.optionalToken,
      querystring: Type.Object({ updated_since: Type.Optional(UnixTime), user_id: Type.Optional(Id), room_id: Type.Optional(Id) }, { additionalProperties: false }),
      headers: ListHeaders,
      response: {
        200: Type.Object({ messages: Type.Array(messageRef()) }, { description: 'The messages, ordered by updated_at, then id', headers: LIST_HEADERS }),
        304: NOT_MODIFIED,
        ...errors(400, 401, { 404: 'No room the caller may read has this id' }),
      },
    },
  }, async (request, reply) => {
    const { updated_since: since, user_id: userId, room_id: roomId = GENERAL_ROOM_ID } = request.query
    const oldest = Math.max(since ?? 0, Math.floor(Date.now() / 1000) - HISTORY_SECONDS)
    // From memory when the cache can answer (services/api/message-cache.ts), after the same read check.
    if (await replyFromCache(fastify.messageCache, fastify.pg, request, reply, roomId, (window) => window.messagesSince(oldest, userId))) return reply
    await mustRead(fastify.pg, request.currentUser?.id ?? null, roomId)
    reply.header('cache-control', 'private, no-cache')
    return { messages: (await messagesSince(fastify.pg, roomId, oldest, userId ?? null)).map(messageJson) }
  })

  fastify.get('/api/messages/:id', {
    preHandler: fastify.authenticateOptional,
    schema: {
      operationId: 'getMessage',
      tags: ['messages'],
      summary: 'One message',
      security: SECURITY.optionalToken,
      params: IdParams,
      response: { 200: messageRef('The message'), ...errors(...PARAM_ERRORS, 401, { 404: 'No message has this id' }) },
    },
  }, async (request) => {
    // A message of a room the caller may not read is exactly as absent as one never written.
    const message = await readableMessage(fastify.pg, request.params.id, request.currentUser?.id ?? null)
    if (message === null) throw httpError(404, 'Message not found')
    return messageJson(message)
  })

  fastify.put('/api/messages/:id', {
    preHandler: fastify.authenticate,
    schema: {
      operationId: 'editMessage',
      tags: ['messages'],
      summary: 'Edit your message',
      description: 'Only the author. Checked and queued like a post: 202 with the task\'s Location; the task ends in 204 (with `Prefer: wait=N`, answered at once when it ends in time).',
      security: SECURITY.token,
      params: IdParams,
      headers: PreferHeaders,
      body: SourceBody,
      response: editTaskResponses,
    },
  }, async (request, reply) => {
    const author = await editableMessageAuthor(fastify.pg, request.params.id, request.currentUser!.id)
    if (author === null) throw httpError(404, 'Message not found')
    if (author !== request.currentUser!.id) throw httpError(403, 'You can only edit your own messages')
    const source = validateMessageSource(request.body.source, config.MESSAGE_MAX_LENGTH)
    const taskId = await queueEditMessage(fastify.pg, request.currentUser!.id, request.params.id, source)
    return replyWithTask(app, request, reply, taskId, true)
  })

  fastify.delete('/api/messages/:id', {
    preHandler: fastify.authenticate,
    schema: {
      operationId: 'deleteMessage',
      tags: ['messages'],
      summary: 'Delete a message',
      description: 'The author, or the owner of the message\'s room. The message stays as a tombstone (`deleted: true`, empty `source` and `html`, same id and `created_at`, a new `updated_at`), pushed as an update; `GET /api/messages/:id` answers it and search no longer finds it. Deleting a tombstone again is a 204 that changes nothing. A message in a room the caller may not read is a 404, exactly as a missing one.',
      security: SECURITY.token,
      params: IdParams,
      response: {
        204: noContent('Deleted (or it already was)'),
        ...errors(...BODY_ERRORS, ...PARAM_ERRORS, {
          401: TOKEN_REQUIRED,
          403: 'Neither the message\'s author nor its room\'s owner',
          404: 'No message the caller may read has this id (one in a private room of others is as missing as one never written)',
        }),
      },
    },
  }, async (request, reply) => {
    const outcome = await deleteMessage(fastify.pg, request.currentUser!.id, request.params.id)
    if (outcome === 'not_found') throw httpError(404, 'Message not found')
    if (outcome === 'forbidden') throw httpError(403, 'Only the author or the room\'s owner can delete a message')
    return reply.code(204).send(null)
  })
}
