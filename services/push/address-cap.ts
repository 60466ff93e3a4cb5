import type { Socket } from 'node:net'
import { addressKey } from '../../lib/client-address'

// Open sockets per client address (an IPv6 /64 counts as one) on this process, so one client cannot take every socket.
export class SocketsPerAddress {
  private readonly open = new Map<string, number>()

  constructor (readonly max: number) {}

  // Counts `socket` against its client's address until it closes; false, counting nothing, when that is full.
  take (client: string, socket: Socket): boolean {
    const address = addressKey(client)
    const held = this.open.get(address) ?? 0
    if (held >= this.max) return false
    // Already gone (the client gave up): its 'close' may have fired, so it must not be counted.
    if (socket.destroyed) return true
    this.open.set(address, held + 1)
    socket.once('close', () => this.release(address))
    return true
  }

  count (client: string): number {
    return this.open.get(addressKey(client)) ?? 0
  }

  private release (address: string): void {
    const held = (this.open.get(address) ?? 0) - 1
    if (held > 0) this.open.set(address, held)
    else this.open.delete(address)
  }
}
