import type { FastifyInstance } from 'fastify'

// Listens on `port` at the configured HOST; on failure (a taken port) it first closes what the app
// opened (pool, LISTEN connection), so the process can end.
export async function listenOrClose (app: FastifyInstance, port: number): Promise<FastifyInstance> {
  try {
    await app.listen({ port, host: app.config.HOST })
  } catch (err) {
    await app.close()
    throw err
  }
  return app
}
