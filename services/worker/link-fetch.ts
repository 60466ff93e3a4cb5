// The link preview's HTTP side (undici), loaded with the first link to preview: a worker that
// previews nothing never loads undici's hundred modules.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { isIP, type Socket } from 'node:net'
import { Agent, buildConnector, request } from 'undici'
import { isAllowedAddress } from './address-policy'
import { checkPreviewUrl, PreviewRefused, type PreviewLimits } from './link-preview'

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

// DNS resolution that refuses a name if any of its addresses is refused, and hands the
// socket only the checked addresses: what was checked is what gets connected.
function checkedLookup (allowPrivate: boolean) {
  return (hostname: string, options: { family?: number, all?: boolean }, callback: LookupCallback): void => {
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (err, addresses) => {
      if (err !== null) return callback(err, [])
      const refused = addresses.find((a) => !isAllowedAddress(a.address, allowPrivate))
      if (addresses.length === 0 || refused !== undefined) {
        return callback(Object.assign(new PreviewRefused(`${hostname} resolves to a refused address ${refused?.address ?? ''}`.trim()), { code: 'EREFUSED' }), [])
      }
      if (options.all === true) callback(null, addresses)
      else callback(null, addresses[0].address, addresses[0].family)
    })
  }
}

// An undici agent whose every connection is checked: names through checkedLookup, and the
// connected peer address itself (covers IP-literal hosts, which skip DNS), before any byte is sent.
export function createPreviewAgent (limits: PreviewLimits): Agent {
  const base = buildConnector({ timeout: limits.timeoutMs, lookup: checkedLookup(limits.allowPrivate) } as buildConnector.BuildOptions)
  const connect: buildConnector.connector = (options, callback) => {
    // An IP-literal host skips DNS: its address is checked here, before any connection is tried.
    const literal = options.hostname.replace(/^\[|\]$/g, '')
    if (isIP(literal) !== 0 && !isAllowedAddress(literal, limits.allowPrivate)) {
      return callback(new PreviewRefused(`address ${literal} not allowed`), null)
    }
    return base(options, (err, socket) => {
      if (err !== null) return callback(err, null)
      const peer = (socket as Socket).remoteAddress
      if (peer === undefined || !isAllowedAddress(peer, limits.allowPrivate)) {
        socket.destroy()
        return callback(new PreviewRefused(`address ${peer ?? 'unknown'} not allowed`), null)
      }
      callback(null, socket)
    })
  }
  return new Agent({ connect, keepAliveTimeout: 2000, connections: 8, headersTimeout: limits.timeoutMs, bodyTimeout: limits.timeoutMs })
}

export interface FetchedPage { url: string, html: string | null }

// GET with the SSRF and size rules; follows at most maxRedirects redirects, each re-checked.
export async function fetchPage (agent: Agent, raw: string, limits: PreviewLimits, signal?: AbortSignal): Promise<FetchedPage> {
  const deadline = signal ?? AbortSignal.timeout(limits.timeoutMs)
  let url = checkPreviewUrl(raw)
  for (let hop = 0; ; hop++) {
    const res = await request(url, {
      dispatcher: agent,
      method: 'GET',
      signal: deadline,
      headers: { accept: 'text/html,application/xhtml+xml;q=0.9', 'user-agent': 'FlackLinkPreview/1.0' },
    })
    if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location !== undefined) {
      discard(res.body)
      if (hop >= limits.maxRedirects) throw new PreviewRefused('too many redirects')
      const location = Array.isArray(res.headers.location) ? res.headers.location[0] : res.headers.location
      url = checkPreviewUrl(location, url)
      continue
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      discard(res.body)
      throw new Error(`status ${res.statusCode}`)
    }
    const type = String(res.headers['content-type'] ?? '')
    if (!/^\s*(text\/html|application\/xhtml\+xml)\s*(;|$)/i.test(type)) {
      discard(res.body)
      return { url: url.toString(), html: null }
    }
    return { url: url.toString(), html: await readLimited(res.body, limits.maxBytes, charsetOf(type)) }
  }
}

type Body = AsyncIterable<Buffer> & { destroy: () => void, on: (event: 'error', listener: () => void) => unknown }

// Drops the rest of a body unread; the abort this causes is expected, not an error to report.
function discard (body: Body): void {
  body.on('error', () => {})
  body.destroy()
}

// Reads at most maxBytes of the body; the rest is never downloaded.
async function readLimited (body: Body, maxBytes: number, charset: string): Promise<string> {
  const chunks: Buffer[] = []
  let total = 0
  try {
    for await (const chunk of body) {
      const room = maxBytes - total
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk)
      total += Math.min(chunk.length, room)
      if (total >= maxBytes) break
    }
  } finally {
    discard(body)
  }
  let decoder: TextDecoder
  try {
    decoder = new TextDecoder(charset)
  } catch {
    decoder = new TextDecoder('utf-8')
  }
  return decoder.decode(Buffer.concat(chunks))
}

const charsetOf = (type: string): string => /charset\s*=\s*"?([\w.:-]+)/i.exec(type)?.[1] ?? 'utf-8'
