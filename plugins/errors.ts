import fp from 'fastify-plugin'
import type { FastifyError } from 'fastify'

export class HttpError extends Error {
  constructor (readonly statusCode: number, message: string) { super(message) }
}

export const httpError = (statusCode: number, message: string): HttpError => new HttpError(statusCode, message)

export const ErrorSchema = { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] } as const

// Every error becomes {error}; a 5xx never shows its details to the client.
export default fp(async (fastify) => {
  fastify.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    if (status >= 500) {
      request.log.error({ err }, 'request failed')
      const unavailable = status === 503 || isDatabaseDown(err)
      return reply.code(unavailable ? 503 : 500).send({ error: unavailable ? 'Service temporarily unavailable' : 'Internal server error' })
    }
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="Authentication Required"')
    const message = err.validation !== undefined ? `Invalid request: ${err.message}` : err.message
    return reply.code(status).send({ error: message })
  })
  fastify.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'Not found' }))
}, { name: 'errors', fastify: '5.x' })

// Connection failures (database down or restarting) are a 503, not a bug.
function isDatabaseDown (err: Error & { code?: string }): boolean {
  const text = `${err.code ?? ''} ${err.message}`
  return /ECONNREFUSED|ECONNRESET|57P01|57P03|timeout exceeded when trying to connect|Connection terminated|Can't reach database|DatabaseNotReachable/i.test(text)
}
