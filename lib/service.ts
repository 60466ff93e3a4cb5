import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import Ajv from 'ajv'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import configPlugin, { loadConfig, type ConfigInput } from '../plugins/config'
import errors from '../plugins/errors'
import database from '../plugins/database'
import notifications from '../plugins/notifications'
import events from '../plugins/events'
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
    (httpPart === 'body' ? strict : coercing).compile(schema)
}

// The shared base of every HTTP service: config, errors, database, notifications, events, auth, stats, health.
export async function buildService (options: ServiceOptions, name: string): Promise<FastifyInstance> {
  const config = loadConfig(options.env)
  const app = Fastify({
    logger: options.logger ?? {
      level: config.LOG_LEVEL,
      name,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'], censor: '[redacted]' },
      ...(options.logStream === undefined ? {} : { stream: options.logStream }),
    },
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: config.TRUST_PROXY,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }).withTypeProvider<TypeBoxTypeProvider>()
  app.setValidatorCompiler(validatorCompiler())
  await app.register(configPlugin, { config })
  await app.register(errors)
  await app.register(database)
  await app.register(notifications)
  await app.register(events)
  await app.register(auth)
  await app.register(stats)
  await app.register(health)
  return app as unknown as FastifyInstance
}
