import cluster from 'node:cluster'
import { availableParallelism } from 'node:os'
import envSchema from 'env-schema'
import type { FastifyInstance } from 'fastify'
import { ConfigSchema, type ConfigInput } from '../../plugins/config'
import { loadEnvFile } from '../../lib/env-file'
import { listenOrClose } from '../../lib/listen'
import { runService } from '../../lib/run-service'
import { superviseCluster } from '../../lib/service-cluster'
import type * as App from './app'

// Builds the push service from the environment and listens on PUSH_PORT; close() shuts it down with 1001.
export async function startPush (env: ConfigInput): Promise<FastifyInstance> {
  // Required here, not imported: a PUSH_PROCESSES primary only supervises and never loads the app's ~500 modules.
  const { buildPush } = require('./app') as typeof App
  const app = await buildPush({ env })
  return await listenOrClose(app, app.config.PUSH_PORT)
}

// PUSH_PROCESSES alone, by its schema in plugins/config.ts: the primary needs no other setting.
export function pushProcesses (env: ConfigInput): number {
  const value = env.PUSH_PROCESSES === undefined || env.PUSH_PROCESSES === '' ? undefined : String(env.PUSH_PROCESSES)
  const schema = { type: 'object', properties: { PUSH_PROCESSES: structuredClone(ConfigSchema.properties.PUSH_PROCESSES) } }
  const { PUSH_PROCESSES } = envSchema<{ PUSH_PROCESSES: string }>({ schema, data: { PUSH_PROCESSES: value }, env: false, dotenv: false })
  return PUSH_PROCESSES === 'auto' ? availableParallelism() : Number(PUSH_PROCESSES)
}

// One process serves, or with PUSH_PROCESSES above 1 a primary runs that many on PUSH_PORT.
function main (): void {
  if (cluster.isPrimary) {
    loadEnvFile()
    let processes: number
    try {
      processes = pushProcesses(process.env)
    } catch (err) {
      console.error(`push: failed to start: ${(err as Error).message}`)
      process.exit(1)
    }
    if (processes > 1) return superviseCluster('push', processes)
  }
  // Each of several says which it is in its own lines.
  runService(cluster.isWorker ? `push[${process.pid}]` : 'push', () => startPush(process.env))
}

if (require.main === module) main()
