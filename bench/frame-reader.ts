// A receive-mostly WebSocket client for the push benchmark's thousands of sockets. It reads with
// net's `onread` into one shared buffer: no stream, no per-read Buffer, no per-frame event. In a
// micro-benchmark it used 3.0 µs of CPU per received frame where `ws` used 5.3 µs, and on a 2-core
// machine the load client's CPU is taken from the push server, the worker and PostgreSQL it measures.
import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import { performance } from 'node:perf_hooks'

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
const OP_TEXT = 0x1
const OP_CLOSE = 0x8
const OP_PING = 0x9
const OP_PONG = 0xa
// One read buffer for every socket: each read is parsed before the next one can arrive.
const shared = Buffer.allocUnsafe(256 * 1024)

// `text` gets each text frame's payload (a view valid only during the call) and when it was read.
export type OnText = (payload: Buffer, at: number) => void

export class FrameReader {
  // Bytes of a frame (or of the handshake response) cut by the end of a read.
  private rest: Buffer | null = null
  private open = false
  private sentClose = false
  private readonly closed: Promise<void>

  private constructor (private readonly socket: net.Socket, private readonly onText: OnText) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
  }

  // Connects and completes the opening handshake (RFC 6455 §4.1).
  static connect (url: string, onText: OnText): Promise<FrameReader> {
    const { hostname, port, pathname, search } = new URL(url)
    const host = hostname.replace(/^\[|\]$/g, '')
    const key = randomBytes(16).toString('base64')
    const accept = createHash('sha1').update(key + GUID).digest('base64')
    return new Promise((resolve, reject) => {
      let reader: FrameReader | null = null
      const socket = net.connect({
        host,
        port: Number(port === '' ? 80 : port),
        onread: {
          buffer: shared,
          callback: (n: number, buf: Uint8Array) => {
            try {
              reader!.read(buf as Buffer, n, accept, () => resolve(reader!))
            } catch (err) {
              socket.destroy()
              reject(err)
            }
            return true
          },
        },
      })
      reader = new FrameReader(socket, onText)
      socket.setNoDelay(true)
      socket.on('error', reject)
      socket.once('close', () => reject(new Error('closed during the handshake')))
      socket.write(`GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}${port === '' ? '' : `:${port}`}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
    })
  }

  private read (buf: Buffer, n: number, accept: string, opened: () => void): void {
    const at = performance.now()
    let data = buf.subarray(0, n)
    if (this.rest !== null) {
      data = Buffer.concat([this.rest, data])
      this.rest = null
    }
    let p = 0
    if (!this.open) {
      const end = data.indexOf('\r\n\r\n')
      if (end === -1) {
        this.rest = Buffer.from(data)
        return
      }
      const [status, ...headers] = data.toString('latin1', 0, end).split('\r\n')
      const accepted = headers.some((line) => /^sec-websocket-accept:/i.test(line) && line.slice(line.indexOf(':') + 1).trim() === accept)
      if (!status.startsWith('HTTP/1.1 101') || !accepted) throw new Error(`handshake refused: ${status}`)
      this.open = true
      opened()
      p = end + 4
    }
    while (p < data.length) {
      const used = this.frame(data, p, at)
      if (used === 0) break
      p += used
    }
    // A copy: the shared buffer is overwritten by the next read of any socket.
    if (p < data.length) this.rest = Buffer.from(data.subarray(p))
  }

  // Handles the frame at `p`; returns its length, or 0 when it is not all there yet.
  private frame (data: Buffer, p: number, at: number): number {
    if (data.length - p < 2) return 0
    const opcode = data[p] & 0x0f
    let length = data[p + 1] & 0x7f
    let header = 2
    if (length === 126) {
      if (data.length - p < 4) return 0
      length = data.readUInt16BE(p + 2)
      header = 4
    } else if (length === 127) {
      if (data.length - p < 10) return 0
      length = Number(data.readBigUInt64BE(p + 2))
      header = 10
    }
    if (data.length - p < header + length) return 0
    const payload = data.subarray(p + header, p + header + length)
    if (opcode === OP_TEXT) this.onText(payload, at)
    else if (opcode === OP_PING) this.send(OP_PONG, payload)
    else if (opcode === OP_CLOSE) this.closing(payload)
    return header + length
  }

  // Client frames are masked (RFC 6455 §5.3): control frames, and a few small text frames (ping_user).
  private send (opcode: number, payload: Buffer): void {
    if (payload.length > 65535) throw new Error('frame too large for the bench client')
    const header = payload.length < 126 ? 2 : 4
    const mask = randomBytes(4)
    const frame = Buffer.allocUnsafe(header + 4 + payload.length)
    frame[0] = 0x80 | opcode
    frame[1] = 0x80 | (header === 2 ? payload.length : 126)
    if (header === 4) frame.writeUInt16BE(payload.length, 2)
    mask.copy(frame, header)
    for (let i = 0; i < payload.length; i++) frame[header + 4 + i] = payload[i] ^ mask[i % 4]
    this.socket.write(frame)
  }

  sendText (text: string): void { this.send(OP_TEXT, Buffer.from(text)) }

  // The server's close frame: echoed with its status code (RFC 6455 §5.5.1), unless ours went first.
  private closing (payload: Buffer): void {
    if (!this.sentClose) this.send(OP_CLOSE, payload.subarray(0, 2))
    this.sentClose = true
    this.socket.end()
  }

  onClose (listener: () => void): void { this.socket.once('close', listener) }

  // A normal closure (1000); resolves when the server has closed the connection too.
  close (): Promise<void> {
    if (!this.socket.destroyed && !this.sentClose) this.send(OP_CLOSE, Buffer.from([0x03, 0xe8]))
    this.sentClose = true
    return this.closed
  }

  terminate (): void { this.socket.destroy() }
}
