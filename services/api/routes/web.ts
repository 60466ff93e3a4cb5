import type { FastifyInstance } from 'fastify'
import fastifyStatic from '@fastify/static'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Type } from '../../../lib/typebox'
import { SECURITY, errors } from '../responses'
import { PROJECT_ROOT } from '../../../lib/project-root'
import { NICKNAME_PATTERN, Nullable } from '../../../lib/models'

export const PUBLIC_DIR = join(PROJECT_ROOT, 'services', 'api', 'public')
export const CLIENT_BUNDLE = join(PUBLIC_DIR, 'dist', 'app.js')

// Only the page, its stylesheet and the built bundle are served; the TypeScript source is not.
const SERVED = /^\/(?:index\.html|styles\.css|favicon\.svg|dist\/[\w.-]+\.(?:js|js\.map|css))?$/

// The page runs no inline code and loads nothing from other hosts; the push socket
// may live on another port or host, hence ws: and wss: in connect-src.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

// The web client: the chat page at `/`, its assets, where its push socket is and the input rules.
export default async function web (fastify: FastifyInstance): Promise<void> {
  if (!existsSync(CLIENT_BUNDLE)) {
    fastify.log.warn(`web client not built (${CLIENT_BUNDLE} is missing): run \`node scripts/build-client.mjs\``)
  }

  // PUSH_PUBLIC_URL: an absolute ws(s):// URL, or a path such as `/ws` on the page's own
  // host (behind nginx). Empty: the page's host on PUSH_PORT at /ws (a local run).
  fastify.get('/api/client-config', {
    schema: {
      operationId: 'getClientConfig',
      tags: ['service'],
      summary: 'Settings for the web client: where its push socket is, and the rules it checks before sending',
      security: SECURITY.none,
      response: {
        ...errors(),
        200: Type.Object({
          push_url: Nullable(Type.String(), { description: 'ws(s) URL or same-origin path; null: the page host on push_port at /ws' }),
          push_port: Type.Integer(),
          message_max_length: Type.Integer({ description: 'the longest message source the server takes, in UTF-16 code units' }),
          nickname_pattern: Type.String({ description: 'the nickname rule, a regular expression with the u flag' }),
        }, { description: 'Where the page connects its socket, and the limits it shows before sending' }),
      },
    },
  }, async (_request, reply) => {
    reply.header('cache-control', 'no-store')
    const { PUSH_PUBLIC_URL, PUSH_PORT, MESSAGE_MAX_LENGTH } = fastify.config
    // The same constants the routes check, so the page's rules never drift from the server's.
    return { push_url: PUSH_PUBLIC_URL === '' ? null : PUSH_PUBLIC_URL, push_port: PUSH_PORT, message_max_length: MESSAGE_MAX_LENGTH, nickname_pattern: NICKNAME_PATTERN }
  })

  await fastify.register(fastifyStatic, {
    root: PUBLIC_DIR,
    prefix: '/',
    index: 'index.html',
    wildcard: true,
    schemaHide: true,
    allowedPath: (pathName) => SERVED.test(pathName),
    setHeaders: (reply, path) => {
      reply.header('x-content-type-options', 'nosniff')
      if (path.endsWith('.html')) {
        reply.header('content-security-policy', CONTENT_SECURITY_POLICY)
        reply.header('referrer-policy', 'no-referrer')
        reply.header('x-frame-options', 'DENY')
        // The page is small; always revalidate so a deploy shows at once.
        reply.header('cache-control', 'no-cache')
      }
    },
  })
}
