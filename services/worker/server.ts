import type { ConfigInput } from '../../plugins/config'
import type { Closeable } from '../../lib/run-service'
import { runService } from '../../lib/run-service'
import { buildWorker } from './app'

// A worker that stops for good raises it as an uncaught error: the process's fatal-error handler
// (runService, npm start) then shuts down and exits non-zero, so a supervisor restarts it.
export async function startWorker (env: ConfigInput): Promise<Closeable> {
  const worker = buildWorker({ env, onStoppedForGood: (err) => setImmediate(() => { throw err }) })
  try {
    await worker.start()
  } catch (err) {
    await worker.close()
    throw err
  }
  return worker
}

if (require.main === module) runService('worker', () => startWorker(process.env))
