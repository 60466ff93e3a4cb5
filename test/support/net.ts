import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net'

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

export interface Relay {
  // The database URL through the relay.
  url: string
  // Open connections go silent without closing (queries on them hang), as behind a NAT that dropped them; new ones still pass.
  silence: () => void
  // Silence, and no new connections either.
  cut: () => Promise<void>
  // Closes every connection and lets new ones through again.
  mend: () => Promise<void>
  // Closes every connection.
  drop: () => void
  // New connections are closed at once (and counted) while the open ones go on; `admit` lets them through again.
  refuse: () => void
  admit: () => void
  refused: () => number
}

// A TCP relay to a database that can fail the way a network does; closed when the test ends.
export async function faultyRelay (t: { teardown: (fn: () => void) => void }, url: string): Promise<Relay> {
  const target = new URL(url)
  const sockets = new Set<Socket>()
  let refusing = false
  let refused = 0
  const onConnection = (inbound: Socket): void => {
    if (refusing) {
      refused++
      inbound.destroy()
      return
    }
    const outbound = connect(Number(target.port), target.hostname)
    inbound.pipe(outbound).pipe(inbound)
    for (const [a, b] of [[inbound, outbound], [outbound, inbound]]) {
      sockets.add(a)
      a.on('error', () => b.destroy())
      a.on('close', () => { b.destroy(); sockets.delete(a) })
    }
  }
  let server: Server = createServer(onConnection)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  // Silenced sockets stay in `sockets`: the server still holds those sessions open until they are dropped.
  const silence = (): void => { for (const socket of sockets) { socket.unpipe(); socket.pause() } }
  const drop = (): void => { for (const socket of sockets) socket.destroy() }
  t.teardown(() => { drop(); server.close() })
  const relayed = new URL(url)
  relayed.hostname = '127.0.0.1'
  relayed.port = String(port)
  return {
    url: relayed.toString(),
    silence,
    cut: async () => {
      silence()
      server.close()
    },
    mend: async () => {
      drop()
      server = createServer(onConnection)
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    },
    drop,
    refuse: () => { refusing = true },
    admit: () => { refusing = false },
    refused: () => refused,
  }
}
