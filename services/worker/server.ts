import type { ConfigInput } from '../../plugins/config'
import type { Closeable } from '../../lib/run-service'
import { runService } from '../../lib/run-service'
import { buildWorker } from './app'

export async function startWorker (env: ConfigInput): Promise<Closeable> {
  const worker = buildWorker({ env })
  try {
    await worker.start()
  } catch (err) {
    await worker.close()
    throw err
  }
  return worker
}

if (require.main === module) runService('worker', () => startWorker(process.env))
