import fp from 'fastify-plugin'
import envSchema from 'env-schema'
import { Type, type Static } from '../lib/typebox'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isIP } from 'node:net'

const Port = (fallback: number) => Type.Integer({ minimum: 0, maximum: 65535, default: fallback })
const Seconds = (fallback: number) => Type.Integer({ minimum: 1, default: fallback })

// Every setting of every service, one schema; .env.example mirrors it.
export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], { default: 'development' }),
  DATABASE_URL: Type.String({ minLength: 1, pattern: '^postgres(ql)?://' }),
  HOST: Type.String({ default: '127.0.0.1' }),
  // false, true (only behind a proxy that overwrites X-Forwarded-For) or the proxies' addresses/CIDRs, comma-separated.
  TRUST_PROXY: Type.String({ default: 'false' }),
  API_PORT: Port(5000),
  PUSH_PORT: Port(5001),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  TOKEN_TTL_SECONDS: Seconds(86400),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
  DATA_DIR: Type.String({ default: '.data' }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 65536 }),
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 30000 }),
  HEADERS_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10000 }),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
  OFFLINE_AFTER_SECONDS: Seconds(60),
  OFFLINE_SWEEP_SECONDS: Seconds(5),
  PRESENCE_REFRESH_SECONDS: Seconds(5),
  REQUEST_STATS_WINDOW_SECONDS: Seconds(15),
  LOGIN_FAILURES_PER_NICKNAME: Type.Integer({ minimum: 1, default: 10 }),
  LOGIN_FAILURES_PER_ADDRESS: Type.Integer({ minimum: 1, default: 50 }),
  LOGIN_FAILURE_WINDOW_SECONDS: Seconds(300),
  LOGIN_NICKNAME_DELAY_MS: Type.Integer({ minimum: 0, maximum: 10000, default: 1000 }),
  MESSAGE_MAX_LENGTH: Type.Integer({ minimum: 1, default: 4000 }),
  LINK_PREVIEW_ALLOW_PRIVATE: Type.Boolean({ default: false }),
  LINK_PREVIEW_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 3000 }),
  LINK_PREVIEW_MAX_BYTES: Type.Integer({ minimum: 1024, default: 1048576 }),
  LINK_PREVIEW_MAX_LINKS: Type.Integer({ minimum: 0, maximum: 10, default: 3 }),
  LINK_PREVIEW_MAX_REDIRECTS: Type.Integer({ minimum: 0, maximum: 10, default: 3 }),
  EVENT_RETENTION_SECONDS: Seconds(86400),
  WORKER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 200, default: 64 }),
  WORKER_LOCAL_QUEUE_SIZE: Type.Integer({ minimum: -1, maximum: 1000, default: 64 }),
  PUSH_PUBLIC_URL: Type.String({ default: '' }),
  PUSH_ALLOWED_ORIGINS: Type.String({ default: '' }),
  PUSH_MAX_FRAME_BYTES: Type.Integer({ minimum: 256, default: 16384 }),
  PUSH_MAX_BUFFER_BYTES: Type.Integer({ minimum: 1024, default: 1048576 }),
  PUSH_FRAMES_PER_SECOND: Type.Integer({ minimum: 1, default: 20 }),
  PUSH_HEARTBEAT_SECONDS: Seconds(30),
  PUSH_MAX_SOCKETS_PER_ADDRESS: Type.Integer({ minimum: 1, default: 50 }),
  // Push processes sharing PUSH_PORT when push runs on its own: 1 to 99, or `auto` (one per CPU).
  PUSH_PROCESSES: Type.String({ pattern: '^(auto|[1-9][0-9]?)$', default: '1' }),
})

export type Config = Omit<Static<typeof ConfigSchema>, 'TRUST_PROXY'> & { JWT_SECRET: string, TRUST_PROXY: TrustProxy }
// Fastify's trustProxy: none, every hop, or the hops from these addresses.
export type TrustProxy = boolean | string[]
export type ConfigInput = Record<string, string | number | boolean | undefined>

// Validates the given variables (never process.env itself: callers pass it).
export function loadConfig (env: ConfigInput): Config {
  const data = Object.fromEntries(Object.entries(env).filter(([k, v]) => v !== undefined && v !== '' && k in ConfigSchema.properties))
  const parsed = envSchema<Static<typeof ConfigSchema>>({ schema: structuredClone(ConfigSchema), data, env: false, dotenv: false })
  const config = parsed as unknown as Config
  config.TRUST_PROXY = trustProxy(parsed.TRUST_PROXY)
  if (parsed.JWT_SECRET === undefined) {
    if (parsed.NODE_ENV === 'production') throw new Error('env must have required property \'JWT_SECRET\' when NODE_ENV=production')
    config.JWT_SECRET = developmentSecret(parsed.DATA_DIR)
  }
  return config
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal'])

// A hop count is refused: Fastify ignores it, since a client reaching the service directly could forge the hops.
function trustProxy (value: string): TrustProxy {
  const text = value.trim().toLowerCase()
  if (text === 'true' || text === 'false') return text === 'true'
  const entries = text.split(',').map((entry) => entry.trim())
  const bad = entries.find((entry) => !PROXY_NAMES.has(entry) && !isAddressOrCidr(entry))
  if (bad !== undefined) {
    throw new Error(`TRUST_PROXY must be false, true or a comma-separated list of proxy addresses or CIDRs (such as 10.0.0.1, 192.168.0.0/16, loopback): ${JSON.stringify(bad)} is not one`)
  }
  return entries
}

function isAddressOrCidr (entry: string): boolean {
  const [address, bits, ...rest] = entry.split('/')
  const version = isIP(address)
  if (version === 0 || rest.length > 0) return false
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128))
}

// Outside production a secret is generated once and kept, so tokens survive restarts.
function developmentSecret (dataDir: string): string {
  const file = join(dataDir, 'jwt-secret')
  try {
    return readFileSync(file, 'utf8').trim()
  } catch {
    mkdirSync(dataDir, { recursive: true })
    const secret = randomBytes(48).toString('base64url')
    writeFileSync(file, secret, { mode: 0o600 })
    return secret
  }
}

declare module 'fastify' {
  interface FastifyInstance { config: Config }
}

export default fp<{ config: Config }>(async (fastify, opts) => {
  fastify.decorate('config', opts.config)
}, { name: 'config', fastify: '5.x' })
