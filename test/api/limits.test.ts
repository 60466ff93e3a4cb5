import t, { type Test } from 'tap'
import { connect, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { buildApi } from '../../services/api/app'
import { testEnv } from '../helper'
import { loadConfig, type ConfigInput } from '../../plugins/config'

async function listening (t: Test, overrides: ConfigInput): Promise<{ app: FastifyInstance, port: number }> {
  const app = await buildApi({ env: await testEnv(t, overrides) })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, port: (app.server.address() as AddressInfo).port }
}

interface Exchange { response: string, error: string | null, ms: number }

// Writes raw bytes to the server and collects whatever comes back until the connection ends;
// `readAfterSending`: like a simple client, reads nothing until it has sent everything.
function exchange (port: number, send: (socket: Socket) => void, readAfterSending = false): Promise<Exchange> {
  const started = Date.now()
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let error: string | null = null
    const socket = connect(port, '127.0.0.1', () => send(socket))
    // A server that never answers fails the check instead of hanging the file.
    socket.setTimeout(8000, () => { error = 'no answer in 8 s'; socket.destroy() })
    if (readAfterSending) {
      socket.pause()
      socket.once('finish', () => socket.resume())
    }
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('error', (err: Error & { code?: string }) => { error = err.code ?? err.message })
    socket.on('close', () => resolve({ response: Buffer.concat(chunks).toString('latin1'), error, ms: Date.now() - started }))
  })
}

// Sends a body (a multiple of 64 KiB) as fast as the socket takes it, then `last`.
function pour (socket: Socket, total: number, last: string): void {
  const chunk = Buffer.alloc(64 * 1024, 'a')
  let sent = 0
  const more = (): void => {
    while (sent < total && !socket.destroyed) {
      sent += chunk.length
      if (!socket.write(chunk)) { socket.once('drain', more); return }
    }
    if (!socket.destroyed) socket.end(last)
  }
  more()
}

const bodyOf = (response: string): unknown => JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4))

t.test('a body over the limit always gets its 413, never a reset, with or without Content-Length', async (t) => {
  const { port } = await listening(t, { BODY_LIMIT_BYTES: 65536 })
  const size = 10 * 1024 * 1024
  const failures: string[] = []
  for (let i = 0; i < 30; i++) {
    const chunked = i % 3 === 2
    const { response, error } = await exchange(port, (socket) => {
      socket.write(`POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${size}`}\r\nConnection: close\r\n\r\n`)
      if (chunked) socket.write(`${size.toString(16)}\r\n`)
      pour(socket, size, chunked ? '\r\n0\r\n\r\n' : '')
    }, i % 2 === 0)
    if (!response.startsWith('HTTP/1.1 413')) failures.push(`${i}${chunked ? ' chunked' : ''}: ${error ?? ''} ${response.slice(0, 400)}`)
    else t.same(Object.keys(bodyOf(response) as object), ['error'])
  }
  t.same(failures, [], 'every attempt got 413')
})

t.test('a body far over the limit is read only so far, then the connection is closed', async (t) => {
  const { port } = await listening(t, { BODY_LIMIT_BYTES: 65536 })
  // Announces 1 GiB and sends until the server stops reading or 256 MiB have gone.
  const announced = 1024 * 1024 * 1024
  const cap = 256 * 1024 * 1024
  let sent = 0
  const { response, error } = await exchange(port, (socket) => {
    socket.write(`POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${announced}\r\n\r\n`)
    const chunk = Buffer.alloc(256 * 1024, 'a')
    const more = (): void => {
      while (!socket.destroyed && sent < cap) {
        sent += chunk.length
        if (!socket.write(chunk)) { socket.once('drain', more); return }
      }
      if (!socket.destroyed) socket.destroy()
    }
    more()
  })
  t.ok(sent < cap, `the server stopped reading after ${sent >> 20} MiB (${error ?? 'no error'})`)
  if (response !== '') t.match(response, /^HTTP\/1\.1 413/, 'and answered 413 if the client read it')
})

t.test('unfinished headers and unfinished bodies are cut at their timeouts with 408 {"error"}', async (t) => {
  const { port } = await listening(t, { REQUEST_TIMEOUT_MS: 1500, HEADERS_TIMEOUT_MS: 800 })
  const headers = await exchange(port, (socket) => socket.write('GET /api/users HTTP/1.1\r\nHost: x\r\nX-Slow: '))
  t.match(headers.response, /^HTTP\/1\.1 408/, headers.response)
  // Not before the timeout; above, any time before the client gives up (a loaded machine is slow).
  t.ok(headers.ms >= 700 && headers.ms < 8000, `headers cut after ${headers.ms} ms`)
  t.same(Object.keys(bodyOf(headers.response) as object), ['error'])

  const body = await exchange(port, (socket) => socket.write('POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"nick'))
  t.match(body.response, /^HTTP\/1\.1 408/, body.response)
  t.ok(body.ms >= 1400 && body.ms < 8000, `body cut after ${body.ms} ms`)

  // A request that arrives in time is untouched by either timeout.
  const ok = await exchange(port, (socket) => socket.end('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))
  t.match(ok.response, /^HTTP\/1\.1 200/)
})

t.test('the timeouts are settings, validated', async (t) => {
  const env = await testEnv(t)
  t.equal(loadConfig(env).REQUEST_TIMEOUT_MS, 30000)
  t.equal(loadConfig(env).HEADERS_TIMEOUT_MS, 10000)
  t.throws(() => loadConfig({ ...env, REQUEST_TIMEOUT_MS: 'soon' }), /REQUEST_TIMEOUT_MS/)
})
