import { Type, type TSchema, type TUnsafe } from '../../lib/typebox'
import { ErrorSchema } from '../../plugins/errors'
import { MessageSchema, RoomSchema, UserSchema, type MessageJson, type RoomJson, type UserJson } from '../../lib/models'

// The responses of the REST routes as the OpenAPI document shows them: one description per
// status, the models and the error form as shared components (`#/components/schemas/...`).

const ErrorComponent = { $id: 'Error', ...ErrorSchema, description: 'The one error form: a human-readable message' }

// Added to the api before its routes, so responses can refer to them by `$id`.
export const SHARED_SCHEMAS: TSchema[] = [UserSchema, MessageSchema, RoomSchema, ErrorComponent as unknown as TSchema]

type ResponseHeaders = Record<string, { type: 'string' | 'integer', description: string }>

const refTo = <T>(id: string, description?: string, headers?: ResponseHeaders): TUnsafe<T> =>
  Type.Unsafe<T>({ $ref: `${id}#`, ...(description === undefined ? {} : { description }), ...(headers === undefined ? {} : { headers }) })

export const userRef = (description?: string, headers?: ResponseHeaders): TUnsafe<UserJson> => refTo<UserJson>('User', description, headers)
export const messageRef = (description?: string, headers?: ResponseHeaders): TUnsafe<MessageJson> => refTo<MessageJson>('Message', description, headers)
export const roomRef = (description?: string, headers?: ResponseHeaders): TUnsafe<RoomJson> => refTo<RoomJson>('Room', description, headers)

export const location = (what: string): ResponseHeaders => ({ location: { type: 'string', description: `URL of ${what}` } })

export const noContent = (description: string): TSchema => Type.Null({ description })

export const TOKEN_REQUIRED = 'Authentication required: no token, or a malformed, expired or revoked one'

// What each error status means when a route says nothing more specific.
const ERROR_MEANING: Record<number, string> = {
  400: 'Invalid request: a path, query, header or body value breaks the schema, or the body is not valid JSON',
  401: 'A token was sent but is malformed, expired or revoked',
  413: 'The body is larger than the server\'s limit (BODY_LIMIT_BYTES, 64 KiB by default)',
  415: 'The body\'s Content-Type is neither application/json nor text/plain',
  500: 'Internal server error: details are logged, never sent',
  503: 'Service temporarily unavailable: the database cannot be reached, or this process is shutting down; retry later',
}

const ERROR_HEADERS: Record<number, ResponseHeaders> = {
  401: { 'www-authenticate': { type: 'string', description: 'Bearer realm="Authentication Required" (so browsers show no login prompt)' } },
  429: { 'retry-after': { type: 'integer', description: 'Seconds until a login may be tried again' } },
}

// Error responses: a status alone takes its usual meaning, an object gives a route's own; 500 and
// 503 are added to every route (any request can meet a bug, a database outage or a shutdown).
export function errors (...entries: Array<number | Record<number, string>>): Record<number, TSchema> {
  const meanings: Record<number, string> = { 500: ERROR_MEANING[500], 503: ERROR_MEANING[503] }
  for (const entry of entries) {
    if (typeof entry === 'number') {
      const meaning = ERROR_MEANING[entry]
      if (meaning === undefined) throw new Error(`no default description for status ${entry}: give the route's own`)
      meanings[entry] = meaning
    } else {
      Object.assign(meanings, entry)
    }
  }
  return Object.fromEntries(Object.entries(meanings).map(([code, meaning]) =>
    [code, refTo<{ error: string }>('Error', meaning, ERROR_HEADERS[Number(code)])]))
}

// The statuses every route that reads a JSON body can answer before its handler runs.
export const BODY_ERRORS = [400, 413, 415] as const
// ... and every route with a path parameter.
export const PARAM_ERRORS = [400] as const

// Who may call a route, in the document's terms.
export const SECURITY = {
  none: [] as Array<Record<string, string[]>>,
  // No token, or a valid one (which marks its user online).
  optionalToken: [{}, { bearer: [] }] as Array<Record<string, string[]>>,
  token: [{ bearer: [] }] as Array<Record<string, string[]>>,
  basic: [{ basic: [] }] as Array<Record<string, string[]>>,
}

const TASK_LOCATION: ResponseHeaders = {
  location: { type: 'string', description: 'URL of the task: GET it (with Prefer: wait=N to hold) for the final response' },
  'retry-after': { type: 'integer', description: 'Seconds to wait before asking the task again' },
  'preference-applied': { type: 'string', description: 'wait=N, when the request had a Prefer: wait' },
}

export const TaskPending = Type.Object({
  status: Type.String({ description: '`queued`: the task has not finished yet' }),
}, { description: 'Accepted: the task is queued or running', headers: TASK_LOCATION })

const TASK_ENDED_201 = messageRef('The message is stored (the task\'s final response)', location('the message'))
const TASK_ENDED_204 = noContent('The message is changed (the task\'s final response)')
const TASK_FAILED = 'The task failed for good after its retries, or an internal server error (details are logged, never sent)'

// POST /api/messages: 202 at once, or 201 when `Prefer: wait` saw the task end.
export const postTaskResponses = {
  201: TASK_ENDED_201,
  202: TaskPending,
  ...errors(401, ...BODY_ERRORS, { 401: TOKEN_REQUIRED, 500: TASK_FAILED }),
}

// PUT /api/messages/:id: the author is checked before queueing, and again by the task.
export const editTaskResponses = {
  202: TaskPending,
  204: TASK_ENDED_204,
  ...errors(...BODY_ERRORS, ...PARAM_ERRORS, {
    401: TOKEN_REQUIRED,
    403: 'The message is someone else\'s',
    404: 'No message has this id',
    500: TASK_FAILED,
  }),
}

// GET /api/tasks/:id: 202 while it runs, then whatever the task ended with.
export const taskResponses = {
  201: TASK_ENDED_201,
  202: TaskPending,
  204: TASK_ENDED_204,
  ...errors(...PARAM_ERRORS, {
    401: TOKEN_REQUIRED,
    403: 'The edit\'s final response: the message is someone else\'s',
    404: 'No such task of yours (someone else\'s task is as unknown as a missing one), or the final response of an edit whose message is gone, or of a post or edit whose room its user may no longer read',
    500: TASK_FAILED,
  }),
}
