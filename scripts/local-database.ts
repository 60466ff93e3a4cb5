import { embeddedPort } from '../lib/database-url'
import { startEmbeddedPostgres } from '../lib/embedded-postgres'

export interface LocalDatabase { url: string, embedded: boolean, stop: () => Promise<void>, stopped: Promise<void> }

// DATABASE_URL when set; otherwise the embedded PostgreSQL under DATA_DIR (default .data): ours,
// or, when `whenRunning` is 'reuse', the one another process of this checkout already runs.
export async function localDatabase (env: NodeJS.ProcessEnv, log: (line: string) => void, whenRunning: 'reuse' | 'refuse'): Promise<LocalDatabase> {
  if (env.DATABASE_URL !== undefined && env.DATABASE_URL !== '') {
    return { url: env.DATABASE_URL, embedded: false, stop: async () => {}, stopped: new Promise(() => {}) }
  }
  const port = embeddedPort(env)
  const server = await startEmbeddedPostgres({ dir: `${env.DATA_DIR ?? '.data'}/postgres`, port, log, whenRunning })
  if (!server.reused) log(`embedded PostgreSQL listening on 127.0.0.1:${port}`)
  return { url: server.url('postgres'), embedded: !server.reused, stop: server.stop, stopped: server.stopped }
}
