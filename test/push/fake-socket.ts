import { EventEmitter } from 'node:events'
import { WebSocket } from 'ws'

// What the server wrote to a client, decoded: JSON text frames, in order.
export type Written = Record<string, unknown>

// Text frames (RFC 6455 §5.2, unmasked from a server) joined in one buffer, decoded.
export function decodeWire (wire: Buffer): Written[] {
  const frames: Written[] = []
  let at = 0
  while (at < wire.length) {
    let length = wire[at + 1] & 0x7f
    let start = at + 2
    if (length === 126) {
      length = wire.readUInt16BE(at + 2)
      start = at + 4
    } else if (length === 127) {
      length = Number(wire.readBigUInt64BE(at + 2))
      start = at + 10
    }
    frames.push(JSON.parse(wire.subarray(start, start + length).toString()) as Written)
    at = start + length
  }
  return frames
}

// The client end of a push socket, faked (it is outside the unit): it records what the server
// writes and lets a test say how much is still queued for it (bufferedAmount).
export class FakeSocket extends EventEmitter {
  readyState: number = WebSocket.OPEN
  bufferedAmount = 0
  readonly written: Written[] = []
  closedWith: { code: number, reason: string } | null = null
  terminated = false
  pings = 0
  // ws's TCP socket, which frames already on wire form are written to.
  readonly _socket = { write: (wire: Buffer) => { this.written.push(...decodeWire(wire)) } }

  send (data: Buffer | string): void {
    this.written.push(JSON.parse(data.toString()) as Written)
  }

  // A frame from the client.
  receive (frame: unknown): void {
    this.emit('message', Buffer.from(typeof frame === 'string' ? frame : JSON.stringify(frame)), false)
  }

  close (code: number, reason: string): void {
    if (this.readyState !== WebSocket.OPEN) return
    this.closedWith = { code, reason }
    this.readyState = WebSocket.CLOSING
  }

  // The client's side of the close: the server hears it.
  finishClose (): void {
    this.readyState = WebSocket.CLOSED
    this.emit('close', this.closedWith?.code ?? 1005, Buffer.from(this.closedWith?.reason ?? ''))
  }

  terminate (): void {
    this.terminated = true
    this.finishClose()
  }

  ping (): void { this.pings++ }

  // The frames written so far of this type.
  ofType (type: string): Written[] { return this.written.filter((frame) => frame.type === type) }

  // As a ws socket, for the code under test.
  get ws (): WebSocket { return this as unknown as WebSocket }
}
