import { embeddedPort, embeddedUrl } from './embedded-postgres'

// Outside production, no DATABASE_URL means the local embedded PostgreSQL (npm start's, or the Procfile.dev db).
export function useLocalDatabase (env: NodeJS.ProcessEnv): void {
  if ((env.DATABASE_URL ?? '') === '' && env.NODE_ENV !== 'production') env.DATABASE_URL = embeddedUrl(embeddedPort(env))
}
