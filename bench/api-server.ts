// Child process of bench/api.ts: the real api and a bare Fastify route, side by side.
import Fastify from 'fastify'
import { buildApi } from '../services/api/app'

async function main (): Promise<void> {
  const api = await buildApi({ env: { DATABASE_URL: process.argv[2], JWT_SECRET: 'bench-secret-bench-secret-bench-secret', LOG_LEVEL: 'warn', NODE_ENV: 'production' } })
  await api.listen({ port: 0, host: '127.0.0.1' })
  const bare = Fastify()
  bare.get('/constant', async () => ({ hello: 'world' }))
  await bare.listen({ port: 0, host: '127.0.0.1' })
  const port = (app: { server: { address: () => unknown } }): number => (app.server.address() as { port: number }).port
  process.send?.({ api: port(api), bare: port(bare) })
}

main().catch((err) => { console.error(err); process.exit(1) })
