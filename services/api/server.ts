import type { FastifyInstance } from 'fastify'
import { buildApi } from './app'
import { listenOrClose } from '../../lib/listen'
import { runService } from '../../lib/run-service'

export async function startApi (env: NodeJS.ProcessEnv): Promise<FastifyInstance> {
  const app = await buildApi({ env })
  return await listenOrClose(app, app.config.API_PORT)
}

if (require.main === module) runService('api', () => startApi(process.env))
