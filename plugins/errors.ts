import fp from 'fastify-plugin'
import { isDatabaseDown } from '../lib/database-down'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { STATUS_CODES, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'

export class HttpError extends Error {
  constructor (readonly statusCode: number, message: string) { super(message) }
}

export const httpError = (statusCode: number, message: string): HttpError => new HttpError(statusCode, message)

export const ErrorSchema = { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] } as const

// Every error becomes {error}; a 5xx never shows its details to the client.
export default fp(async (fastify) => {
  fastify.setErrorHandler(async (err: FastifyError, request, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    if (status >= 500) {
      request.log.error({ err }, 'request failed')
      const unavailable = status === 503 || isDatabaseDown(err)
      return reply.code(unavailable ? 503 : 500).send({ error: unavailable ? 'Service temporarily unavailable' : 'Internal server error' })
    }
    // Fastify closes the connection after a refused body while the client is still sending it:
    // the client's writes then fail and it may never read the answer. Read and drop the rest
    // first (up to DRAIN_LIMIT_BYTES and REQUEST_TIMEOUT_MS), then answer on a connection in a clean state.
    if (hasBody(request) && !request.raw.readableEnded && !request.raw.destroyed) {
      // A body announced larger than the limit is not read at all.
      const announced = Number(request.headers['content-length'] ?? 0)
      if (announced <= DRAIN_LIMIT_BYTES && await drained(request.raw, DRAIN_LIMIT_BYTES)) reply.removeHeader('connection')
      else reply.header('connection', 'close')
    }
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="Authentication Required"')
    const message = err.validation !== undefined ? `Invalid request: ${err.message}` : err.message
    return reply.code(status).send({ error: message })
  })
  fastify.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'Not found' }))
}, { name: 'errors', fastify: '5.x' })

// Fastify's own early errors (a malformed URL, a too long path parameter), answered in the one form.
export function frameworkErrors (err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode ?? 400
  const message = err.code === 'FST_ERR_BAD_URL'
    ? 'Invalid request: malformed URL encoding'
    : err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'Invalid request: a path parameter is too long' : err.message
  void reply.code(status).header('x-content-type-options', 'nosniff').send({ error: message })
}

const CLIENT_ERRORS: Record<string, [number, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request timeout: the request was not received in time'],
  HPE_HEADER_OVERFLOW: [431, 'Request headers too large'],
}

// Requests Node's parser refuses before Fastify sees them (malformed HTTP, timeouts): the one form too.
export function clientErrorHandler (this: FastifyInstance, err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [status, message] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'Bad request: malformed HTTP']
  const body = JSON.stringify({ error: message })
  this.log.debug({ err }, 'client error')
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy()
}

const hasBody = (request: FastifyRequest): boolean =>
  request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined

// Enough for any honest upload that missed the limit; past it a client is only making the server read.
const DRAIN_LIMIT_BYTES = 16 * 1024 * 1024

// Resolves true when the rest of a request body has been read and dropped, false when more than
// `limit` bytes came first (reading stops; the connection is to be closed) or the connection is gone.
function drained (raw: IncomingMessage, limit: number): Promise<boolean> {
  return new Promise((resolve) => {
    let read = 0
    const finish = (clean: boolean): void => {
      raw.off('data', count)
      raw.off('end', ended)
      raw.off('close', closed)
      resolve(clean)
    }
    const count = (chunk: Buffer): void => {
      read += chunk.length
      if (read > limit) { raw.pause(); finish(false) }
    }
    const ended = (): void => finish(true)
    const closed = (): void => finish(false)
    raw.removeAllListeners('data')
    raw.on('data', count)
    raw.once('end', ended)
    raw.once('close', closed)
    raw.resume()
  })
}
