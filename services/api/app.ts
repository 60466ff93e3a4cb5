import type { FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import { buildService, type ServiceOptions } from '../../lib/service'
import users from './routes/users'
import tokens from './routes/tokens'
import stats from './routes/stats'
import messages from './routes/messages'
import tasks from './routes/tasks'
import web from './routes/web'
import taskWaiter from '../../plugins/task-waiter'

export type ApiOptions = ServiceOptions

// The REST API; returns an app that has not started listening.
export async function buildApi (options: ApiOptions): Promise<FastifyInstance> {
  const app = await buildService(options, 'api')
  await app.register(swagger, {
    openapi: {
      info: { title: 'Flack API', version: '1.0.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, basic: { type: 'http', scheme: 'basic' } } },
    },
  })
  app.get('/docs/json', { schema: { hide: true } }, async () => app.swagger())
  await app.register(users)
  await app.register(tokens)
  await app.register(stats)
  await app.register(taskWaiter)
  await app.register(messages)
  await app.register(tasks)
  await app.register(web)
  return app
}
