import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { SHARED_SCHEMAS } from './responses'

export const DOCS_PREFIX = '/docs'

// The reference page loads only its own scripts and styles (Swagger UI, from node_modules) and
// talks only to this api ("Try it out"): the same strict policy as the chat page, no inline code.
export const DOCS_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const DESCRIPTION = [
  'The REST API of the Flack chat service. Times are integer Unix seconds; every error is `{"error": "<message>"}`.',
  'Posting and editing are asynchronous: 202 with the task\'s `Location`, or the final response at once with `Prefer: wait=N`.',
  'Live updates come from the push service\'s WebSocket at `/ws`, which this document does not cover: see docs/API.md in the repository.',
].join(' ')

const TAGS = [
  { name: 'users', description: 'Registration, profiles and presence' },
  { name: 'tokens', description: 'Signing in (Basic) and out' },
  { name: 'messages', description: 'Posting, editing and reading messages' },
  { name: 'rooms', description: 'Rooms (public, private, direct), their members and history' },
  { name: 'tasks', description: 'Asynchronous requests: a post or an edit until it ends' },
  { name: 'service', description: 'Request statistics and the web client\'s settings' },
]

// The OpenAPI document at /docs/json (also committed as docs/openapi.json) and the
// human-readable reference at /docs, with the shared schemas every route refers to.
export default fp(async (fastify) => {
  for (const schema of SHARED_SCHEMAS) fastify.addSchema(schema)
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Flack API', version: '1.0.0', description: DESCRIPTION },
      servers: [{ url: '/', description: 'The api instance that serves this document' }],
      tags: TAGS,
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A token from POST /api/tokens' },
          basic: { type: 'http', scheme: 'basic', description: 'nickname:password, only to get a token' },
        },
      },
    },
    // Components keep their schema's $id as name (User, Message, Error) instead of def-N.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` },
  })
  await fastify.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    staticCSP: DOCS_CONTENT_SECURITY_POLICY,
    theme: { title: 'Flack API reference' },
    // BaseLayout: no top bar, whose logo carries an inline <style> the policy refuses.
    uiConfig: { deepLinking: true, validatorUrl: null, layout: 'BaseLayout' },
    uiHooks: {
      onRequest: (_request, reply, done) => {
        reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer')
        done()
      },
    },
  })
}, { name: 'docs', fastify: '5.x' })
