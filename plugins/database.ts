import fp from 'fastify-plugin'
import pg from 'pg'
import type { Config } from './config'

// Queries go through lib/queries on the pool (docs/DATABASE.md); Prisma only owns the schema.
export interface Database {
  pool: pg.Pool
  close: () => Promise<void>
}

// A pg pool that survives its database going away: callers end it themselves, before the database stops.
export function createPool (url: string, max: number, extra: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    // A down database answers with an error quickly instead of hanging requests.
    connectionTimeoutMillis: 3000,
    query_timeout: 10000,
    ...extra,
  })
  pool.on('error', () => { /* idle client lost (database restart); the pool replaces it */ })
  // A checked-out client's lost connection fails its next query; unhandled, the event would crash us.
  pool.on('connect', (client) => client.on('error', () => {}))
  return pool
}

// One pool per process.
export function createDatabase (config: Pick<Config, 'DATABASE_URL' | 'DATABASE_POOL_SIZE'>): Database {
  const pool = createPool(config.DATABASE_URL, config.DATABASE_POOL_SIZE)
  let closed = false
  return {
    pool,
    close: async () => {
      if (closed) return
      closed = true
      await pool.end()
    },
  }
}

declare module 'fastify' {
  interface FastifyInstance { pg: pg.Pool }
}

export default fp(async (fastify) => {
  const db = createDatabase(fastify.config)
  fastify.decorate('pg', db.pool)
  fastify.addHook('onClose', db.close)
}, { name: 'database', dependencies: ['config'], fastify: '5.x' })
