import type { FastifyInstance } from 'fastify'
import { buildService, type ServiceOptions } from '../../lib/service'
import users from './routes/users'
import tokens from './routes/tokens'
import stats from './routes/stats'
import messages from './routes/messages'
import tasks from './routes/tasks'
import rooms from './routes/rooms'
import search from './routes/search'
import web from './routes/web'
import taskWaiter from '../../plugins/task-waiter'
import messageCache from './message-cache'
import docs from './docs'

export type ApiOptions = ServiceOptions

// The REST API; returns an app that has not started listening.
export async function buildApi (options: ApiOptions): Promise<FastifyInstance> {
  const app = await buildService(options, 'api')
  // First: the document sees every route registered after it.
  await app.register(docs)
  await app.register(users)
  await app.register(tokens)
  await app.register(stats)
  await app.register(taskWaiter)
  await app.register(messageCache)
  await app.register(messages)
  await app.register(rooms)
  await app.register(search)
  await app.register(tasks)
  await app.register(web)
  return app
}
