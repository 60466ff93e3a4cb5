import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { isIP, type Socket } from 'node:net'
import { Agent, buildConnector, request } from 'undici'
import { Parser } from 'htmlparser2'
import { isAllowedAddress } from './address-policy'
import type { LinkPreview } from './render'

export interface PreviewLimits {
  allowPrivate: boolean
  timeoutMs: number
  maxBytes: number
  maxRedirects: number
}

// A fetch the SSRF policy or the limits refused; `reason` says which rule.
export class PreviewRefused extends Error {
  constructor (readonly reason: string) { super(`link preview refused: ${reason}`) }
}

const MAX_TITLE = 300
const MAX_DESCRIPTION = 1000

// The URL rules checked before every hop: http(s), no credentials, a host.
export function checkPreviewUrl (raw: string, base?: URL): URL {
  let url: URL
  try {
    url = new URL(raw, base)
  } catch {
    throw new PreviewRefused('invalid URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PreviewRefused(`scheme ${url.protocol} not allowed`)
  if (url.username !== '' || url.password !== '') throw new PreviewRefused('credentials in URL')
  if (url.hostname === '') throw new PreviewRefused('no host')
  return url
}

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

const tidy = (text: string, max: number): string | null => {
  const clean = text.replace(/\s+/g, ' ').trim()
  return clean === '' ? null : clean.slice(0, max)
}

// Title and description from a page: <title> or og:title, meta description or og:description.
export function pageSummary (html: string): { title: string | null, description: string | null } {
  let title = ''
  let inTitle = false
  let titleDone = false
  const meta: Record<string, string> = {}
  const parser = new Parser({
    onopentag (name, attribs) {
      if (name === 'title' && !titleDone) inTitle = true
      if (name === 'meta') {
        const key = (attribs.name ?? attribs.property ?? '').toLowerCase()
        if (key !== '' && attribs.content !== undefined && !(key in meta)) meta[key] = attribs.content
      }
    },
    ontext (text) { if (inTitle) title += text },
    onclosetag (name) {
      if (name === 'title' && inTitle) { inTitle = false; titleDone = true }
    },
  }, { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true })
  parser.write(html)
  parser.end()
  return {
    title: tidy(title, MAX_TITLE) ?? tidy(meta['og:title'] ?? '', MAX_TITLE),
    description: tidy(meta.description ?? '', MAX_DESCRIPTION) ?? tidy(meta['og:description'] ?? '', MAX_DESCRIPTION),
  }
}

export interface Previewer {
  // The preview of a link, or null when it was refused or could not be fetched.
  preview: (url: string) => Promise<LinkPreview | null>
  close: () => Promise<void>
}

export function createPreviewer (limits: PreviewLimits, onError: (url: string, err: Error) => void = () => {}): Previewer {
  const agent = createPreviewAgent(limits)
  return {
    preview: async (url) => {
      try {
        const page = await fetchPage(agent, url, limits)
        const summary = page.html === null ? { title: null, description: null } : pageSummary(page.html)
        return { url, ...summary }
      } catch (err) {
        onError(url, err as Error)
        return null
      }
    },
    close: () => agent.close(),
  }
}
