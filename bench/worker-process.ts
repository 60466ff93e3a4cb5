// Child process of bench/worker.ts: the real api (role `api`) or worker (role `worker`) on the given database.
import { buildApi } from '../services/api/app'
import { buildWorker } from '../services/worker/app'

async function main (): Promise<void> {
  const [role, databaseUrl] = process.argv.slice(2)
  const env = { DATABASE_URL: databaseUrl, JWT_SECRET: 'bench-secret-bench-secret-bench-secret', LOG_LEVEL: 'warn', NODE_ENV: 'production', ...JSON.parse(process.env.BENCH_WORKER_ENV ?? '{}') }
  if (role === 'api') {
    const api = await buildApi({ env })
    process.on('SIGTERM', () => { api.close().finally(() => process.exit(0)) })
    await api.listen({ port: 0, host: '127.0.0.1' })
    process.send?.({ port: (api.server.address() as { port: number }).port })
  } else {
    const worker = buildWorker({ env })
    // A clean stop hands jobs held in the local queue back to the database.
    process.on('SIGTERM', () => { worker.close().finally(() => process.exit(0)) })
    await worker.start()
    process.send?.({ ready: true })
  }
}

main().catch((err) => { console.error(err); process.exit(1) })
