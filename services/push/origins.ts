import { isIP } from 'node:net'
import type { Config } from '../../plugins/config'

// `host` is the request's Host header: the name the browser reached this service by.
export type OriginCheck = (origin: string | undefined, host?: string) => boolean

// Browsers send Origin on WebSocket upgrades and do not apply CORS to them, so a page on another
// site could open a socket with the user's ambient credentials: only listed origins may connect.
// PUSH_ALLOWED_ORIGINS is a comma-separated list (or `*`); by default the web client's own page
// (the api's origin) and the push service's own origin, on local names, HOST, or the IP address in
// the request's Host header (a page opened by LAN address). Not a name from Host: under DNS
// rebinding an attacker's name points at us. Clients that send no Origin are not browsers.
export function originCheck (config: Pick<Config, 'PUSH_ALLOWED_ORIGINS' | 'API_PORT' | 'PUSH_PUBLIC_URL' | 'HOST'>, pushPort: () => number): OriginCheck {
  const listed = config.PUSH_ALLOWED_ORIGINS.split(',').map((o) => o.trim()).filter((o) => o !== '')
  if (listed.includes('*')) return () => true
  const allowed = new Set(listed.map(normalise))
  const defaults = listed.length === 0
  return (origin, host) => {
    if (origin === undefined) return true
    const candidate = normalise(origin)
    if (allowed.has(candidate)) return true
    if (!defaults) return false
    return defaultOrigins(config, pushPort(), hostAddress(host)).has(candidate)
  }
}

// The IP address of a Host header (as URLs write it, no port), or null for a name, none, or junk.
function hostAddress (host: string | undefined): string | null {
  if (host === undefined || host === '') return null
  try {
    const { hostname } = new URL(`http://${host}`)
    return isIP(hostname.replace(/^\[|\]$/g, '')) === 0 ? null : hostname
  } catch {
    return null
  }
}

function defaultOrigins (config: Pick<Config, 'API_PORT' | 'PUSH_PUBLIC_URL' | 'HOST'>, pushPort: number, requestHost: string | null): Set<string> {
  const hosts = new Set(['localhost', '127.0.0.1', '[::1]'])
  if (requestHost !== null) hosts.add(requestHost)
  if (config.HOST !== '0.0.0.0' && config.HOST !== '::') hosts.add(config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST)
  const origins = new Set<string>()
  for (const host of hosts) {
    origins.add(normalise(`http://${host}:${config.API_PORT}`))
    origins.add(normalise(`http://${host}:${pushPort}`))
  }
  if (config.PUSH_PUBLIC_URL !== '') {
    try {
      const url = new URL(config.PUSH_PUBLIC_URL)
      origins.add(normalise(`${url.protocol === 'wss:' ? 'https:' : url.protocol === 'ws:' ? 'http:' : url.protocol}//${url.host}`))
    } catch { /* not a URL: contributes nothing */ }
  }
  return origins
}

// Origins compare as scheme://host[:port], lowercase, with no path and no trailing slash.
function normalise (origin: string): string {
  try {
    const url = new URL(origin)
    return `${url.protocol}//${url.host}`
  } catch {
    return origin.trim().toLowerCase()
  }
}
