import fp from 'fastify-plugin'
import jwt from '@fastify/jwt'
import { randomUUID } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { httpError } from './errors'
import { dummyPasswordHash, verifyPassword } from './passwords'
import { markUserOnline } from './presence'
import { LoginLimiter } from './login-limiter'
import { isValidNickname, type UserRow } from './models'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const tokenUserQuery = {
  name: 'token-user',
  text: `SELECT u.id, u.created_at AS "createdAt", u.updated_at AS "updatedAt", u.nickname,
                u.last_seen_at AS "lastSeenAt", u.online
         FROM tokens t JOIN users u ON u.id = t.user_id
         WHERE t.id = $1 AND t.user_id = $2 AND t.revoked_at IS NULL AND t.expires_at > now()`,
}

interface TokenClaims { sub: string, jti: string }

declare module '@fastify/jwt' {
  interface FastifyJWT { payload: TokenClaims }
}

declare module 'fastify' {
  interface FastifyRequest {
    currentUser: UserRow | null
    tokenId: string | null
  }
  interface FastifyInstance {
    // preHandlers: a valid Bearer token required / optional (but valid when sent) / Basic login.
    authenticate: (request: FastifyRequest) => Promise<void>
    authenticateOptional: (request: FastifyRequest) => Promise<void>
    authenticateBasic: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    issueToken: (userId: number) => Promise<string>
    userForToken: (token: string) => Promise<{ user: UserRow, tokenId: string } | null>
    markSeen: (user: UserRow) => Promise<UserRow>
  }
}

export default fp(async (fastify) => {
  const { config } = fastify
  await fastify.register(jwt, {
    secret: config.JWT_SECRET,
    sign: { algorithm: 'HS256', expiresIn: config.TOKEN_TTL_SECONDS },
    verify: { algorithms: ['HS256'] },
  })
  const limiter = new LoginLimiter(config.LOGIN_FAILURE_WINDOW_SECONDS * 1000)

  fastify.decorateRequest('currentUser', null)
  fastify.decorateRequest('tokenId', null)

  fastify.decorate('issueToken', async (userId: number) => {
    const jti = randomUUID()
    await fastify.prisma.token.create({
      data: { id: jti, userId, expiresAt: new Date(Date.now() + config.TOKEN_TTL_SECONDS * 1000) },
    })
    return fastify.jwt.sign({ sub: String(userId), jti })
  })

  // Signature, expiry and the token's row (not revoked) all have to hold.
  fastify.decorate('userForToken', async (token: string) => {
    let claims: TokenClaims
    try {
      claims = fastify.jwt.verify<TokenClaims>(token)
    } catch {
      return null
    }
    const userId = Number(claims.sub)
    if (typeof claims.jti !== 'string' || !UUID.test(claims.jti) || !Number.isSafeInteger(userId)) return null
    const { rows } = await fastify.pg.query<UserRow>({ ...tokenUserQuery, values: [claims.jti, userId] })
    return rows.length === 0 ? null : { user: rows[0], tokenId: claims.jti }
  })

  // Presence: a flip publishes a User event; a fresh online user costs no write.
  fastify.decorate('markSeen', async (user: UserRow) => {
    if (!user.online) return (await markUserOnline(fastify.prisma, user.id)) ?? { ...user, online: true }
    if (Date.now() - user.lastSeenAt.getTime() < config.PRESENCE_REFRESH_SECONDS * 1000) return user
    await fastify.pg.query({ name: 'user-seen', text: 'UPDATE users SET last_seen_at = now() WHERE id = $1', values: [user.id] })
    return { ...user, lastSeenAt: new Date() }
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
    request.currentUser = await fastify.markSeen(found.user)
    request.tokenId = found.tokenId
  }

  fastify.decorate('authenticate', (request: FastifyRequest) => bearer(request, true))
  fastify.decorate('authenticateOptional', (request: FastifyRequest) => bearer(request, false))

  fastify.decorate('authenticateBasic', async (request: FastifyRequest, reply: FastifyReply) => {
    const credentials = parseBasic(request.headers.authorization)
    if (credentials === null) throw httpError(401, 'Basic authentication required')
    const nicknameKey = `n:${credentials.nickname}`
    const addressKey = `a:${request.ip}`
    const wait = Math.max(
      limiter.retryAfter(nicknameKey, config.LOGIN_FAILURES_PER_NICKNAME),
      limiter.retryAfter(addressKey, config.LOGIN_FAILURES_PER_ADDRESS))
    if (wait > 0) {
      reply.header('retry-after', String(wait))
      throw httpError(429, 'Too many failed logins; try again later')
    }
    // A nickname that could never be registered is not looked up (NUL bytes would upset the database).
    const user = isValidNickname(credentials.nickname)
      ? await fastify.prisma.user.findUnique({ where: { nickname: credentials.nickname } })
      : null
    const ok = await verifyPassword(credentials.password, user?.passwordHash ?? await dummyPasswordHash())
    if (user === null || !ok) {
      limiter.fail(nicknameKey)
      limiter.fail(addressKey)
      throw httpError(401, 'Invalid nickname or password')
    }
    limiter.forget(nicknameKey)
    const { passwordHash: _hidden, ...row } = user
    request.currentUser = await fastify.markSeen(row)
  })
}, { name: 'auth', dependencies: ['config', 'database', 'errors'], fastify: '5.x' })

function parseBasic (header: string | undefined): { nickname: string, password: string } | null {
  const match = header === undefined ? null : /^Basic +([A-Za-z0-9+/]+={0,2}) *$/.exec(header)
  if (match === null) return null
  const decoded = Buffer.from(match[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 1 || decoded.length > 1024) return null
  return { nickname: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}
