import { LogController, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type pretty from 'pino-pretty'
import type { Config } from '../plugins/config'

// pino options of a service: JSON lines, or readable ones when a person watches a terminal.
export function loggerOptions (config: Config, name: string, stream?: { write: (line: string) => void }): FastifyServerOptions['logger'] {
  const destination = stream ?? (process.stdout.isTTY ? readable() : undefined)
  return {
    level: config.LOG_LEVEL,
    name,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'], censor: '[redacted]' },
    ...(destination === undefined ? {} : { stream: destination }),
  }
}

const REQUEST_FIELDS = ['reqId', 'method', 'url', 'statusCode', 'responseTime']

// pino-pretty, with a request on one line: `GET /api/users 200 6.6 ms [req-2]`.
export function readable (destination?: NodeJS.WritableStream): pretty.PrettyStream {
  // Required here, not imported: a service logging JSON lines (production) never loads its 40-odd modules.
  const prettyStream = require('pino-pretty') as typeof pretty
  return prettyStream({
    ...(destination === undefined ? { sync: true } : { destination, colorize: false }),
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: ['pid', 'hostname', ...REQUEST_FIELDS].join(','),
    messageFormat: (log, messageKey) => {
      const id = log.reqId === undefined ? '' : ` [${String(log.reqId)}]`
      if (log[messageKey] !== 'request') return `${String(log[messageKey])}${id}`
      return `${String(log.method)} ${String(log.url)} ${String(log.statusCode)} ${String(log.responseTime)} ms${id}`
    },
  })
}

// One line per request, when it is answered, instead of Fastify's 'incoming request',
// 'request completed' and 'Route not found' lines; the request id comes with request.log.
export class RequestLog extends LogController {
  override incomingRequest (): void {}
  override routeNotFound (): void {}
  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { method: request.method, url: request.url, statusCode: reply.statusCode, responseTime: Math.round(reply.elapsedTime * 10) / 10 }
    if (error === null || error === undefined) request.log.info(line, 'request')
    else request.log.error({ ...line, err: error }, 'request')
  }
}
