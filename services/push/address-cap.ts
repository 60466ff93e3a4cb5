import type { Socket } from 'node:net'

// Open sockets per client address on this process, so one address cannot take every socket it can hold.
export class SocketsPerAddress {
  private readonly open = new Map<string, number>()

  constructor (readonly max: number) {}

  // Counts `socket` against `address` until it closes; false, counting nothing, when the address is full.
  take (address: string, socket: Socket): boolean {
    const held = this.open.get(address) ?? 0
    if (held >= this.max) return false
    // Already gone (the client gave up): its 'close' may have fired, so it must not be counted.
    if (socket.destroyed) return true
    this.open.set(address, held + 1)
    socket.once('close', () => this.release(address))
    return true
  }

  count (address: string): number {
    return this.open.get(address) ?? 0
  }

  private release (address: string): void {
    const held = this.count(address) - 1
    if (held > 0) this.open.set(address, held)
    else this.open.delete(address)
  }
}
