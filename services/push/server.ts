import type { FastifyInstance } from 'fastify'
import type { ConfigInput } from '../../plugins/config'
import { runService } from '../../lib/run-service'
import { buildPush } from './app'

// Builds the push service from the environment and listens on PUSH_PORT; close() shuts it down with 1001.
export async function startPush (env: ConfigInput): Promise<FastifyInstance> {
  const app = await buildPush({ env })
  try {
    await app.listen({ port: app.config.PUSH_PORT, host: app.config.HOST })
  } catch (err) {
    // A taken port: close what the app opened (pool, LISTEN connection) before giving up.
    await app.close()
    throw err
  }
  return app
}

if (require.main === module) runService('push', () => startPush(process.env))
