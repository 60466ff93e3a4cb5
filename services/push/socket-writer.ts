import type { Duplex } from 'node:stream'
import { WebSocket } from 'ws'

// Close codes (RFC 6455 §7.4.1).
export const GOING_AWAY = 1001
export const POLICY_VIOLATION = 1008
export const INTERNAL_ERROR = 1011

const TEXT = { binary: false }
const SLOW_CLOSE_GRACE_MS = 1000
const DRAIN_POLL_MS = 10

// The part of a ws socket written to: a test may hand in a fake with the same shape.
export type OutSocket = Pick<WebSocket, 'readyState' | 'bufferedAmount' | 'send' | 'close' | 'terminate'>

// Everything written to one client, bounded: a client that stops reading must not make this process
// buffer without bound, so past `maxBufferBytes` queued it is closed as slow.
export class SocketWriter {
  // `owner.slow` hears that the client is being closed as slow (an object, not a closure: sockets stay small).
  constructor (private readonly socket: OutSocket, private readonly maxBufferBytes: number, private readonly owner: { slow: () => void }) {}

  get open (): boolean { return this.socket.readyState === WebSocket.OPEN }

  write (data: Buffer | string): void {
    if (this.writable()) this.socket.send(data, TEXT)
  }

  // Frames already on wire form go straight to the TCP socket: no extension is negotiated
  // (perMessageDeflate is off) and ws writes synchronously, so nothing can interleave.
  writeFramed (wire: Buffer): void {
    if (this.writable()) (this.socket as unknown as { _socket: Duplex })._socket.write(wire)
  }

  close (code: number, reason: string): void {
    if (this.open) this.socket.close(code, reason)
  }

  private writable (): boolean {
    if (!this.open) return false
    if (this.socket.bufferedAmount > this.maxBufferBytes) {
      this.closeSlow()
      return false
    }
    return true
  }

  closeSlow (): void {
    if (!this.open) return
    this.owner.slow()
    this.close(POLICY_VIOLATION, 'Send buffer full: reading too slowly')
    // Its close frame waits behind everything already queued: do not wait for it long.
    setTimeout(() => this.socket.terminate(), SLOW_CLOSE_GRACE_MS).unref()
  }

  // Waits until the client has taken most of what was written; false when it is closed first, or
  // when it does not within `timeoutMs` (then it is closed as slow).
  async drained (timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (this.socket.bufferedAmount > this.maxBufferBytes / 4) {
      if (!this.open) return false
      if (Date.now() > deadline) {
        this.closeSlow()
        return false
      }
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS))
    }
    return this.open
  }
}
