import { createServer, connect, type AddressInfo } from 'node:net'

// A port that was free a moment ago, for a service that must know another's port before listening.
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

// Resolves once something accepts connections on the port (a child process has started).
export async function waitForPort (port: number, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => { socket.end(); resolve(true) })
      socket.on('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
