import type { FastifyInstance } from 'fastify'
import { buildApi } from './app'
import { runService } from '../../lib/run-service'

export async function startApi (env: NodeJS.ProcessEnv): Promise<FastifyInstance> {
  const app = await buildApi({ env })
  try {
    await app.listen({ port: app.config.API_PORT, host: app.config.HOST })
  } catch (err) {
    // A taken port: close what the app opened (pool, LISTEN connection) before giving up.
    await app.close()
    throw err
  }
  return app
}

if (require.main === module) runService('api', () => startApi(process.env))
