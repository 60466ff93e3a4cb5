import type { FastifyInstance } from 'fastify'
import { Type } from '../../../lib/typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { httpError } from '../../../plugins/errors'
import { messageJson } from '../../../lib/models'
import { mustRead } from '../room-access'
import { searchMessages } from '../../../lib/queries/search'
import { Id } from '../schemas'
import { SECURITY, errors, messageRef } from '../responses'

export const MAX_QUERY_LENGTH = 200
const MAX_RESULTS = 50
const DEFAULT_RESULTS = 20

export default async function search (app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>()
  const db = fastify.pg

  fastify.get('/api/search', {
    preValidation: fastify.authenticateOptional,
    schema: {
      operationId: 'searchMessages',
      tags: ['messages'],
      summary: 'Search the messages of the rooms you may read',
      description: 'PostgreSQL full-text search in web-search syntax (`"a phrase"`, `or`, `-word`), words matched as written (no stemming, any language). Best match first; deleted messages are never found. `snippet` is the message\'s text, HTML-escaped, with the matches in `<mark>`.',
      security: SECURITY.optionalToken,
      querystring: Type.Object({
        q: Type.String({ maxLength: 4 * MAX_QUERY_LENGTH, description: `1-${MAX_QUERY_LENGTH} characters once trimmed` }),
        room_id: Type.Optional(Id),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_RESULTS, default: DEFAULT_RESULTS })),
      }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          results: Type.Array(Type.Object({ message: messageRef(), snippet: Type.String() })),
        }, { description: 'The matches, best first' }),
        ...errors(401, {
          400: `Invalid request: q empty or over ${MAX_QUERY_LENGTH} characters, or a bad room_id or limit`,
          404: 'No room has this room_id, or it is private or direct and you are not a member',
        }),
      },
    },
  }, async (request) => {
    const query = request.query.q.trim()
    if (query.length === 0 || [...query].length > MAX_QUERY_LENGTH) throw httpError(400, `Invalid request: q must be 1-${MAX_QUERY_LENGTH} characters once trimmed`)
    if (query.includes('\u0000')) throw httpError(400, 'Invalid request: q must not contain NUL')
    const viewer = request.currentUser?.id ?? null
    const room = request.query.room_id ?? null
    // As for a missing room: an outsider learns nothing about a private one.
    if (room !== null) await mustRead(db, viewer, room)
    const hits = await searchMessages(db, viewer, query, room, request.query.limit ?? DEFAULT_RESULTS)
    return { results: hits.map((hit) => ({ message: messageJson(hit.message), snippet: hit.snippet })) }
  })
}
