import Fastify, { type FastifyInstance, type FastifySchemaValidationError, type FastifyServerOptions } from 'fastify'
import Ajv from 'ajv'
import { STATUS_CODES } from 'node:http'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import configPlugin, { loadConfig, type ConfigInput } from '../plugins/config'
import { loggerOptions, RequestLog } from './logging'
import errors, { clientErrorHandler, frameworkErrors, httpError } from '../plugins/errors'
import database from '../plugins/database'
import notifications from '../plugins/notifications'
import auth from '../plugins/auth'
import stats from '../plugins/stats'
import health from '../plugins/health'

export interface ServiceOptions {
  // Settings by environment variable name; validated, never read from process.env here.
  env: ConfigInput
  logger?: FastifyServerOptions['logger']
  // Where log lines go (tests capture them); stdout by default.
  logStream?: { write: (line: string) => void }
}

// Bodies are validated strictly (no type coercion, no extra fields dropped silently);
// query strings and params are coerced from their string forms.
function validatorCompiler () {
  const strict = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false })
  const coercing = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false })
  return ({ schema, httpPart }: { schema: object, httpPart?: string }) =>
    httpPart === 'body' ? strict.compile(schema) : decimalIntegers(schema, coercing.compile(schema))
}

type Validate = ((data: unknown) => boolean) & { errors?: FastifySchemaValidationError[] | null }
const DECIMAL_INTEGER = /^-?[0-9]{1,20}$/

// Ajv coerces "Infinity", "1e400" or " 1" to numbers and lets Infinity past minimum and maximum:
// an integer in a URL must be written in decimal digits, or it is a 400.
function decimalIntegers (schema: { properties?: Record<string, { type?: unknown }> }, validate: Validate): Validate {
  const integers = Object.entries(schema.properties ?? {}).filter(([, field]) => field.type === 'integer').map(([name]) => name)
  if (integers.length === 0) return validate
  const check: Validate = (data) => {
    for (const name of integers) {
      const value = (data as Record<string, unknown> | null)?.[name]
      if ((Array.isArray(value) ? value : [value]).some((v) => typeof v === 'string' && !DECIMAL_INTEGER.test(v))) {
        check.errors = [{ instancePath: `/${name}`, schemaPath: '#/type', keyword: 'type', params: { type: 'integer' }, message: 'must be an integer' }]
        return false
      }
    }
    const valid = validate(data)
    check.errors = validate.errors as FastifySchemaValidationError[] | null | undefined
    return valid
  }
  return check
}

// JSON bodies must be UTF-8: bytes that are not are a 400, never replaced with U+FFFD.
function strictUtf8Json (app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error')
  const decoder = new TextDecoder('utf-8', { fatal: true })
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string
    try {
      text = decoder.decode(body as Buffer)
    } catch {
      done(httpError(400, 'Invalid request: the body is not valid UTF-8'), undefined)
      return
    }
    parseJson(request, text, done)
  })
}

// The shared base of every HTTP service: config, errors, database, notifications, auth, stats, health.
export async function buildService (options: ServiceOptions, name: string): Promise<FastifyInstance> {
  const config = loadConfig(options.env)
  const app = Fastify({
    logger: options.logger ?? loggerOptions(config, name, options.logStream),
    logController: new RequestLog(),
    bodyLimit: config.BODY_LIMIT_BYTES,
    // Any path parameter up to the header size reaches its route's validation (400) instead of
    // missing the route and falling through to another (the static files' 403, a bare 404 or 414).
    routerOptions: { maxParamLength: 16384 },
    trustProxy: config.TRUST_PROXY,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    http: {
      headersTimeout: Math.min(config.HEADERS_TIMEOUT_MS, config.REQUEST_TIMEOUT_MS),
      // Node checks for late requests every 30 s by default: a timeout would fire up to that late.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(config.HEADERS_TIMEOUT_MS / 4))),
    },
    frameworkErrors,
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>()
  app.setValidatorCompiler(validatorCompiler())
  strictUtf8Json(app as unknown as FastifyInstance)
  // No browser may guess a type other than the one sent (JSON rendered as HTML).
  app.addHook('onRequest', (_request, reply, done) => { reply.header('x-content-type-options', 'nosniff'); done() })
  // An error sent with no body (a plugin's bare 404, such as a plain GET of the socket route) still gets the one form.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (reply.statusCode < 400 || request.method === 'HEAD' || (payload !== undefined && payload !== null && payload !== '')) return done(null, payload)
    reply.header('content-type', 'application/json; charset=utf-8')
    done(null, JSON.stringify({ error: STATUS_CODES[reply.statusCode] ?? 'Error' }))
  })
  await app.register(configPlugin, { config })
  await app.register(errors)
  await app.register(database)
  await app.register(notifications)
  await app.register(auth)
  await app.register(stats)
  await app.register(health)
  return app as unknown as FastifyInstance
}
