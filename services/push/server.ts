import type { ConfigInput } from '../../plugins/config'
import type { Closeable } from '../../plugins/run-service'
import { runService } from '../../plugins/run-service'

// The push service (issue 4): replaced by the push work.
export async function startPush (_env: ConfigInput): Promise<Closeable> {
  return { close: async () => {} }
}

if (require.main === module) runService('push', () => startPush(process.env))
