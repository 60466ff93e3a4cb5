import { startEmbeddedPostgres } from '../lib/embedded-postgres'

export interface LocalDatabase { url: string, embedded: boolean, stop: () => Promise<void> }

// DATABASE_URL when set; otherwise an embedded PostgreSQL under DATA_DIR (default .data).
export async function localDatabase (env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<LocalDatabase> {
  if (env.DATABASE_URL !== undefined && env.DATABASE_URL !== '') {
    return { url: env.DATABASE_URL, embedded: false, stop: async () => {} }
  }
  const port = Number(env.EMBEDDED_POSTGRES_PORT ?? 5433)
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('EMBEDDED_POSTGRES_PORT must be a port number')
  const server = await startEmbeddedPostgres({ dir: `${env.DATA_DIR ?? '.data'}/postgres`, port, log })
  const url = server.url('postgres')
  log(`embedded PostgreSQL listening on 127.0.0.1:${port}`)
  return { url, embedded: true, stop: server.stop }
}
