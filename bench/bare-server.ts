// The baselines, in a process of their own: a bare Fastify app (a constant, any bytes the bench
// stores, a POST answered 202) and a bare `ws` server that sends whatever is POSTed to /broadcast to
// every socket. Tells its two ports over IPC.
import Fastify from 'fastify'
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'

async function main (): Promise<void> {
  const pages = new Map<string, Buffer>()
  const app = Fastify({ bodyLimit: 16 * 1024 * 1024 })
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
  app.get('/constant', async () => ({ hello: 'world' }))
  app.put<{ Params: { name: string }, Body: Buffer }>('/bytes/:name', async (request, reply) => { pages.set(request.params.name, request.body); return reply.code(204).send() })
  app.get<{ Params: { name: string } }>('/bytes/:name', async (request, reply) => reply.type('application/json; charset=utf-8').send(pages.get(request.params.name)))
  app.post('/accept', async (_request, reply) => reply.code(202).send({ id: 1 }))
  await app.listen({ port: 0, host: '127.0.0.1' })

  const server = createServer((request, response) => {
    const parts: Buffer[] = []
    request.on('data', (part: Buffer) => parts.push(part))
    request.on('end', () => {
      const body = Buffer.concat(parts)
      for (const client of wss.clients) client.send(body, { binary: false })
      response.writeHead(204).end()
    })
  })
  const wss = new WebSocketServer({ server, path: '/ws' })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (address: unknown): number => (address as { port: number }).port
  const ws = port(server.address())
  process.send?.({ http: `http://127.0.0.1:${port(app.server.address())}`, ws: `ws://127.0.0.1:${ws}/ws`, broadcast: `http://127.0.0.1:${ws}/broadcast` })
  process.on('SIGTERM', () => process.exit(0))
}

main().catch((err) => { console.error(err); process.exit(1) })
