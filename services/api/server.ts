import type { FastifyInstance } from 'fastify'
import { buildApi } from './app'
import { runService } from '../../lib/run-service'

export async function startApi (env: NodeJS.ProcessEnv): Promise<FastifyInstance> {
  const app = await buildApi({ env })
  await app.listen({ port: app.config.API_PORT, host: app.config.HOST })
  return app
}

if (require.main === module) runService('api', () => startApi(process.env))
