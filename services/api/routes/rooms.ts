import type { FastifyInstance } from 'fastify'
import { Type } from '../../../lib/typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { httpError } from '../../../plugins/errors'
import { messageJson, roomJson, roomUrl, userJson, type RoomRow } from '../../../lib/models'
import { addMember, listMembers, markRead, removeMember, type MemberChange } from '../../../lib/queries/memberships'
import { messagePage } from '../../../lib/queries/messages'
import { createRoom, directRoom, getRoom, listRooms, updateRoom } from '../../../lib/queries/rooms'
import { Id, IdParams } from '../schemas'
import { LIST_HEADERS, ListHeaders, NOT_MODIFIED, replyFromCache } from '../message-cache'
import { ROOM_NOT_FOUND } from '../../../lib/queries/access'
import { mustRead } from '../room-access'
import { BODY_ERRORS, PARAM_ERRORS, SECURITY, TOKEN_REQUIRED, errors, location, messageRef, noContent, roomRef, userRef } from '../responses'

// One answer for a room that does not exist and one the caller may not read: an outsider learns nothing.
const NO_ROOM = 'No room has this id, or it is private or direct and you are not a member'
const NAME_TAKEN = 'Invalid request: a public room already has this name'

export const MAX_NAME_LENGTH = 64
export const MAX_TOPIC_LENGTH = 250
const MAX_PAGE = 100
const DEFAULT_PAGE = 50
const CONTROL = /[\p{Cc}\p{Zl}\p{Zp}]/u
const VISIBLE = /[^\p{Cf}\p{Z}\s]/u

// Names and topics are trimmed and NFC-normalised, then counted in code points.
function cleanText (value: string, field: string, min: number, max: number): string {
  const text = value.trim().normalize('NFC')
  const length = [...text].length
  if (length < min || length > max) throw httpError(400, `Invalid request: ${field} must be ${min}-${max} characters once trimmed`)
  if (CONTROL.test(text)) throw httpError(400, `Invalid request: ${field} must not contain control characters or line breaks`)
  if (min > 0 && !VISIBLE.test(text)) throw httpError(400, `Invalid request: ${field} must have a visible character`)
  return text
}

const NameField = Type.String({ minLength: 1, maxLength: 256, description: '1-64 characters once trimmed (code points), no control characters' })
const TopicField = Type.String({ maxLength: 1024, description: 'At most 250 characters once trimmed' })
const MemberParams = Type.Object({ id: Id, user_id: Id })

// What a membership change that did not happen answers (403s are worded by each route).
const MEMBER_ERRORS: Partial<Record<MemberChange, [number, string]>> = {
  no_room: [404, ROOM_NOT_FOUND],
  no_user: [404, 'User not found'],
  not_member: [404, 'That user is not a member of this room'],
}

export default async function rooms (app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>()
  const db = fastify.pg
  // The token is checked before the body and path: a caller without one learns nothing from them.
  const token = { preValidation: fastify.authenticate }
  const optionalToken = { preValidation: fastify.authenticateOptional }
  const viewerOf = (request: { currentUser: { id: number } | null }): number | null => request.currentUser?.id ?? null
  const json = (room: RoomRow, viewer: number | null): ReturnType<typeof roomJson> => roomJson(room, viewer !== null)

  async function readableRoom (viewer: number | null, roomId: number): Promise<RoomRow> {
    const room = await getRoom(db, viewer, roomId)
    if (room === null) throw httpError(404, ROOM_NOT_FOUND)
    return room
  }
  fastify.post('/api/rooms', {
    ...token,
    schema: {
      operationId: 'createRoom',
      tags: ['rooms'],
      summary: 'Create a room; you become its owner',
      description: 'A public room (anyone reads it) or, with `private: true`, a room only its members read. Public names are unique regardless of case; a private room\'s name never blocks anyone.',
      security: SECURITY.token,
      body: Type.Object({ name: NameField, topic: Type.Optional(TopicField), private: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      response: {
        201: roomRef('The new room', location('the room')),
        ...errors(...BODY_ERRORS, { 400: 'Invalid request (a field missing or breaking its rule, or not JSON), or a public room already has this name', 401: TOKEN_REQUIRED }),
      },
    },
  }, async (request, reply) => {
    const viewer = request.currentUser!.id
    const name = cleanText(request.body.name, 'name', 1, MAX_NAME_LENGTH)
    const topic = cleanText(request.body.topic ?? '', 'topic', 0, MAX_TOPIC_LENGTH)
    const id = await createRoom(db, viewer, { name, topic, kind: request.body.private === true ? 'private' : 'public' })
    if (id === null) throw httpError(400, NAME_TAKEN)
    return reply.code(201).header('location', roomUrl(id)).send(json(await readableRoom(viewer, id), viewer))
  })

  fastify.get('/api/rooms', {
    ...optionalToken,
    schema: {
      operationId: 'listRooms',
      tags: ['rooms'],
      summary: 'Public rooms, and your private and direct rooms',
      description: 'Ordered by name (regardless of case); direct rooms, which have no name, last. With a token each room also says whether you are a member, your role, read marker and unread count.',
      security: SECURITY.optionalToken,
      response: { 200: Type.Object({ rooms: Type.Array(roomRef()) }, { description: 'The rooms you may read' }), ...errors(401) },
    },
  }, async (request) => {
    const viewer = viewerOf(request)
    return { rooms: (await listRooms(db, viewer)).map((room) => json(room, viewer)) }
  })

  fastify.get('/api/rooms/:id', {
    ...optionalToken,
    schema: {
      operationId: 'getRoom',
      tags: ['rooms'],
      summary: 'One room',
      security: SECURITY.optionalToken,
      params: IdParams,
      response: { 200: roomRef('The room'), ...errors(...PARAM_ERRORS, 401, { 404: NO_ROOM }) },
    },
  }, async (request) => {
    const viewer = viewerOf(request)
    return json(await readableRoom(viewer, request.params.id), viewer)
  })

  fastify.put('/api/rooms/:id', {
    ...token,
    schema: {
      operationId: 'updateRoom',
      tags: ['rooms'],
      summary: 'Rename a room or change its topic',
      description: 'Only its owner (general and direct rooms have none).',
      security: SECURITY.token,
      params: IdParams,
      body: Type.Object({ name: Type.Optional(NameField), topic: Type.Optional(TopicField) }, { additionalProperties: false, minProperties: 1 }),
      response: {
        204: noContent('Changed'),
        ...errors(...BODY_ERRORS, ...PARAM_ERRORS, {
          400: 'Invalid request (no field, a field breaking its rule, or not JSON), or a public room already has this name',
          401: TOKEN_REQUIRED,
          403: 'You are not the room\'s owner',
          404: NO_ROOM,
        }),
      },
    },
  }, async (request, reply) => {
    const room = await readableRoom(request.currentUser!.id, request.params.id)
    if (room.role !== 'owner') throw httpError(403, 'Only the room\'s owner can change it')
    const name = request.body.name === undefined ? undefined : cleanText(request.body.name, 'name', 1, MAX_NAME_LENGTH)
    const topic = request.body.topic === undefined ? undefined : cleanText(request.body.topic, 'topic', 0, MAX_TOPIC_LENGTH)
    if (!await updateRoom(db, room.id, { name, topic })) throw httpError(400, NAME_TAKEN)
    return reply.code(204).send(null)
  })

  fastify.get('/api/rooms/:id/members', {
    ...optionalToken,
    schema: {
      operationId: 'listRoomMembers',
      tags: ['rooms'],
      summary: 'A room\'s members, by nickname',
      description: 'Everyone is a member of general.',
      security: SECURITY.optionalToken,
      params: IdParams,
      response: { 200: Type.Object({ users: Type.Array(userRef()) }, { description: 'The members' }), ...errors(...PARAM_ERRORS, 401, { 404: NO_ROOM }) },
    },
  }, async (request) => {
    await mustRead(db, viewerOf(request), request.params.id)
    return { users: (await listMembers(db, request.params.id)).map(userJson) }
  })

  fastify.put('/api/rooms/:id/members/:user_id', {
    ...token,
    schema: {
      operationId: 'addRoomMember',
      tags: ['rooms'],
      summary: 'Join a public room, or add someone to your private room',
      description: 'A public room: only yourself (a member already, or general: nothing changes). A private room you are a member of: anyone. A direct room\'s members never change. A new member\'s read marker starts at the room\'s newest message.',
      security: SECURITY.token,
      params: MemberParams,
      response: {
        204: noContent('A member (also when already one)'),
        ...errors(...BODY_ERRORS, ...PARAM_ERRORS, {
          401: TOKEN_REQUIRED,
          403: 'Someone else into a public room, or any change to a direct room',
          404: `${NO_ROOM}; or no user has this user_id`,
        }),
      },
    },
  }, async (request, reply) => {
    const change = await addMember(db, request.params.id, request.currentUser!.id, request.params.user_id)
    if (change === 'forbidden') throw httpError(403, 'You can only join a public room yourself; a direct room\'s members never change')
    const error = MEMBER_ERRORS[change]
    if (error !== undefined) throw httpError(...error)
    return reply.code(204).send(null)
  })

  fastify.delete('/api/rooms/:id/members/:user_id', {
    ...token,
    schema: {
      operationId: 'removeRoomMember',
      tags: ['rooms'],
      summary: 'Leave a room, or remove a member from your room',
      description: 'Yourself: you leave (an owner hands the room to its longest-standing member). Someone else: only the owner. Nobody leaves general or a direct room.',
      security: SECURITY.token,
      params: MemberParams,
      response: {
        204: noContent('Removed'),
        ...errors(...BODY_ERRORS, ...PARAM_ERRORS, {
          401: TOKEN_REQUIRED,
          403: 'Someone else and you are not the owner, or general or a direct room',
          404: `${NO_ROOM}; or that user is not a member`,
        }),
      },
    },
  }, async (request, reply) => {
    const change = await removeMember(db, request.params.id, request.currentUser!.id, request.params.user_id)
    if (change === 'forbidden') throw httpError(403, 'Only the owner removes others; nobody leaves general or a direct room')
    const error = MEMBER_ERRORS[change]
    if (error !== undefined) throw httpError(...error)
    return reply.code(204).send(null)
  })

  fastify.post('/api/users/:id/direct', {
    ...token,
    schema: {
      operationId: 'directRoom',
      tags: ['rooms'],
      summary: 'Your direct room with a user (yourself included)',
      description: 'Made on the first call (201), the same room afterwards (200); calls at the same time make one room.',
      security: SECURITY.token,
      params: IdParams,
      response: {
        200: roomRef('The direct room, made earlier'),
        201: roomRef('The direct room, made now', location('the room')),
        ...errors(...BODY_ERRORS, ...PARAM_ERRORS, { 401: TOKEN_REQUIRED, 404: 'No user has this id' }),
      },
    },
  }, async (request, reply) => {
    const viewer = request.currentUser!.id
    const direct = await directRoom(db, viewer, request.params.id)
    if (direct === null) throw httpError(404, 'User not found')
    const room = json(await readableRoom(viewer, direct.roomId), viewer)
    if (!direct.created) return room
    return reply.code(201).header('location', roomUrl(direct.roomId)).send(room)
  })

  fastify.get('/api/rooms/:id/messages', {
    ...optionalToken,
    schema: {
      operationId: 'listRoomMessages',
      tags: ['rooms'],
      summary: 'A page of a room\'s history, oldest first',
      description: 'The room\'s full history, paged by message id: no cursor gives the newest `limit` messages (1-100, 50 by default), `before` the ones just older than that id, `after` the ones just newer. `_links.older` / `_links.newer` are present only when more messages exist that way. Deleted messages stay as tombstones (empty source and html, `deleted: true`) so clients drop them.',
      security: SECURITY.optionalToken,
      params: IdParams,
      headers: ListHeaders,
      querystring: Type.Object({
        before: Type.Optional(Id),
        after: Type.Optional(Id),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })),
      }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          messages: Type.Array(messageRef()),
          _links: Type.Object({
            older: Type.Optional(Type.String({ description: 'The next page back in time' })),
            newer: Type.Optional(Type.String({ description: 'The next page forward in time' })),
          }),
        }, { description: 'The page, ordered by id', headers: LIST_HEADERS }),
        304: NOT_MODIFIED,
        ...errors(...PARAM_ERRORS, 401, { 400: 'Invalid request: a bad limit or cursor, or both before and after', 404: NO_ROOM }),
      },
    },
  }, async (request, reply) => {
    const { before, after, limit = DEFAULT_PAGE } = request.query
    if (before !== undefined && after !== undefined) throw httpError(400, 'Invalid request: give before or after, not both')
    const roomId = request.params.id
    // The newest page from memory when the cache can answer (services/api/message-cache.ts), after the same read check.
    if (before === undefined && after === undefined &&
      await replyFromCache(fastify.messageCache, db, request, reply, roomId, (window) => window.newestPage(limit))) return reply
    await mustRead(db, viewerOf(request), roomId)
    reply.header('cache-control', 'private, no-cache')
    const page = await messagePage(db, roomId, { before, after, limit })
    const link = (cursor: string): string => `${roomUrl(roomId)}/messages?${cursor}&limit=${limit}`
    return {
      messages: page.messages.map(messageJson),
      _links: {
        ...(page.older === null ? {} : { older: link(`before=${page.older}`) }),
        ...(page.newer === null ? {} : { newer: link(`after=${page.newer}`) }),
      },
    }
  })

  fastify.put('/api/rooms/:id/read', {
    ...token,
    schema: {
      operationId: 'markRoomRead',
      tags: ['rooms'],
      summary: 'Move your read marker in a room forward',
      description: 'Members only. The marker only moves forward: an id older than it is a no-op (204). A move is pushed as a `Membership` frame to your own sockets only, so your devices agree.',
      security: SECURITY.token,
      params: IdParams,
      body: Type.Object({ message_id: Id }, { additionalProperties: false }),
      response: {
        204: noContent('The marker is at that message, or was already past it'),
        ...errors(...BODY_ERRORS, ...PARAM_ERRORS, {
          400: 'Invalid request (no message_id, or not JSON), or that message is not in this room',
          401: TOKEN_REQUIRED,
          403: 'A public room you have not joined',
          404: NO_ROOM,
        }),
      },
    },
  }, async (request, reply) => {
    const result = await markRead(db, request.params.id, request.currentUser!.id, request.body.message_id)
    if (result === 'no_room') throw httpError(404, ROOM_NOT_FOUND)
    if (result === 'not_member') throw httpError(403, 'Join the room first: only members have a read marker')
    if (result === 'other_room') throw httpError(400, 'Invalid request: no message of this room has this message_id')
    return reply.code(204).send(null)
  })
}
