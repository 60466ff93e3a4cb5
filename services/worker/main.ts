import type { ConfigInput } from '../../plugins/config'
import type { Closeable } from '../../plugins/run-service'
import { runService } from '../../plugins/run-service'

// The graphile-worker runner (issue 3): replaced by the worker work.
export async function startWorker (_env: ConfigInput): Promise<Closeable> {
  return { close: async () => {} }
}

if (require.main === module) runService('worker', () => startWorker(process.env))
