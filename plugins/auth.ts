import fp from 'fastify-plugin'
import jwt from '@fastify/jwt'
import { randomUUID } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { httpError } from './errors'
import { dummyPasswordHash, verifyPassword } from '../lib/passwords'
import { markUserOnline } from '../lib/queries/presence'
import * as tokens from '../lib/queries/tokens'
import { credentialsFor, touchOnlineUser } from '../lib/queries/users'
import { inTransaction, type Db } from '../lib/db'
import { LoginGuard } from '../lib/login-limiter'
import { AuthCache, announce, tokenRevoked, userChanged, userTokensRevoked } from '../lib/auth-cache'
import { isUuid, isValidNickname } from '../lib/models'

// iat: set when signing, so the row's expiry comes from the same instant as exp.
interface TokenClaims { sub: string, jti: string, iat?: number }
export interface AuthUser { id: number }

declare module '@fastify/jwt' {
  interface FastifyJWT { payload: TokenClaims }
}

declare module 'fastify' {
  interface FastifyRequest {
    currentUser: AuthUser | null
    tokenId: string | null
  }
  interface FastifyInstance {
    // preHandlers: a valid Bearer token required / optional (but valid when sent) / Basic login.
    authenticate: (request: FastifyRequest) => Promise<void>
    authenticateOptional: (request: FastifyRequest) => Promise<void>
    authenticateBasic: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    issueToken: (userId: number) => Promise<string>
    userForToken: (token: string) => Promise<{ user: AuthUser, tokenId: string } | null>
    markSeen: (user: AuthUser) => Promise<void>
    revokeToken: (jti: string) => Promise<void>
    // Inside the caller's transaction (a password change), or alone on the pool.
    revokeUserTokens: (db: Db, userId: number) => Promise<void>
    authCache: AuthCache
  }
}

export default fp(async (fastify) => {
  const { config } = fastify
  await fastify.register(jwt, {
    secret: config.JWT_SECRET,
    sign: { algorithm: 'HS256', expiresIn: config.TOKEN_TTL_SECONDS },
    // fast-jwt remembers verified tokens (never past their expiry): no HMAC per request.
    verify: { algorithms: ['HS256'], cache: 10_000 },
  })
  const guard = new LoginGuard({
    perPair: config.LOGIN_FAILURES_PER_NICKNAME,
    perAddress: config.LOGIN_FAILURES_PER_ADDRESS,
    windowMs: config.LOGIN_FAILURE_WINDOW_SECONDS * 1000,
    nicknameDelayMs: config.LOGIN_NICKNAME_DELAY_MS,
  })
  const cache = new AuthCache(60_000)
  cache.start(fastify.notifications)
  fastify.addHook('onClose', async () => cache.close())
  fastify.decorate('authCache', cache)

  fastify.decorateRequest('currentUser', null)
  fastify.decorateRequest('tokenId', null)

  fastify.decorate('issueToken', async (userId: number) => {
    const jti = randomUUID()
    // One clock read for both: the signer's exp is iat + TOKEN_TTL_SECONDS, and so is the row's.
    const iat = Math.floor(Date.now() / 1000)
    await tokens.insertToken(fastify.pg, jti, userId, new Date((iat + config.TOKEN_TTL_SECONDS) * 1000))
    return fastify.jwt.sign({ sub: String(userId), jti, iat })
  })

  // Signature, expiry and the token's row (not revoked) all have to hold; a token
  // checked recently is trusted from the cache until a revocation is announced.
  fastify.decorate('userForToken', async (token: string) => {
    let claims: TokenClaims
    try {
      claims = fastify.jwt.verify<TokenClaims>(token)
    } catch {
      return null
    }
    const userId = Number(claims.sub)
    if (typeof claims.jti !== 'string' || !isUuid(claims.jti) || !Number.isSafeInteger(userId)) return null
    if (cache.userForToken(claims.jti) !== userId) {
      const epoch = cache.tokenEpoch
      const expiresAt = await tokens.liveTokenExpiry(fastify.pg, claims.jti, userId)
      if (expiresAt === null) return null
      cache.rememberToken(claims.jti, userId, expiresAt, epoch)
    }
    return { user: { id: userId }, tokenId: claims.jti }
  })

  // Presence: a flip publishes a User event; a user this process saw recently costs no write.
  fastify.decorate('markSeen', async (user: AuthUser) => {
    if (cache.seenRecently(user.id, config.PRESENCE_REFRESH_SECONDS * 1000)) return
    const touch = await touchOnlineUser(fastify.pg, user.id)
    // The row's holder may wait on a lock for a while; a later request records this visit.
    if (touch === 'busy') return
    if (touch === 'offline') {
      await markUserOnline(fastify.pg, user.id)
      cache.forget(userChanged(user.id))
    }
    cache.rememberSeen(user.id)
  })

  fastify.decorate('revokeToken', async (jti: string) => {
    await inTransaction(fastify.pg, async (client) => {
      await tokens.revokeToken(client, jti)
      await announce(client, tokenRevoked(jti))
    })
    cache.forget(tokenRevoked(jti))
  })

  fastify.decorate('revokeUserTokens', async (db: Db, userId: number) => {
    await tokens.revokeUserTokens(db, userId)
    await announce(db, userTokensRevoked(userId))
    cache.forget(userTokensRevoked(userId))
  })

  async function bearer (request: FastifyRequest, required: boolean): Promise<void> {
    const header = request.headers.authorization
    if (header === undefined) {
      if (required) throw httpError(401, 'Authentication required')
      return
    }
    const match = /^Bearer +([A-Za-z0-9_.-]+) *$/.exec(header)
    const found = match === null ? null : await fastify.userForToken(match[1])
    if (found === null) throw httpError(401, 'Invalid or expired token')
    await fastify.markSeen(found.user)
    request.currentUser = found.user
    request.tokenId = found.tokenId
  }

  fastify.decorate('authenticate', (request: FastifyRequest) => bearer(request, true))
  fastify.decorate('authenticateOptional', (request: FastifyRequest) => bearer(request, false))

  fastify.decorate('authenticateBasic', async (request: FastifyRequest, reply: FastifyReply) => {
    const credentials = parseBasic(request.headers.authorization)
    if (credentials === null) throw httpError(401, 'Basic authentication required')
    const verdict = guard.begin(credentials.nickname, request.ip)
    if ('retryAfter' in verdict) {
      reply.header('retry-after', String(verdict.retryAfter))
      throw httpError(429, 'Too many failed logins; try again later')
    }
    // A nickname under attack: this check waits for its turn in the nickname's queue.
    if (verdict.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, verdict.delayMs))
    let user: { id: number, passwordHash: string } | null
    let ok: boolean
    try {
      // A nickname that could never be registered is not looked up (NUL bytes would upset the database).
      user = isValidNickname(credentials.nickname)
        ? await credentialsFor(fastify.pg, credentials.nickname)
        : null
      ok = await verifyPassword(credentials.password, user?.passwordHash ?? await dummyPasswordHash())
    } catch (err) {
      // Not a wrong guess (the database was out of reach): it counts against no one.
      guard.abandoned(verdict.attempt)
      throw err
    }
    if (user === null || !ok) throw httpError(401, 'Invalid nickname or password')
    guard.succeeded(verdict.attempt)
    request.currentUser = { id: user.id }
    await fastify.markSeen(request.currentUser)
  })
}, { name: 'auth', dependencies: ['config', 'database', 'notifications', 'errors'], fastify: '5.x' })

function parseBasic (header: string | undefined): { nickname: string, password: string } | null {
  const match = header === undefined ? null : /^Basic +([A-Za-z0-9+/]+={0,2}) *$/.exec(header)
  if (match === null) return null
  const decoded = Buffer.from(match[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 1 || decoded.length > 1024) return null
  return { nickname: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}
