import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApi, createUser, eventually } from '../helper'
import { buildTestWorker } from '../worker/helper'
import { connect, startTestPush } from '../push/helper'

// docs/DATABASE.md: queries go through lib/queries on the pool, so the api, the worker and the push
// service never load the Prisma client (about 40 MB of RSS each once it has run a query).
const prismaModules = (): string[] => Object.keys(require.cache).filter((path) => /generated[\\/]prisma|@prisma[\\/]/.test(path))

t.test('the api and the worker serve users, tokens, posts and presence without loading the Prisma client', async (t) => {
  const app = await buildTestApi(t)
  await buildTestWorker(t)
  const user = await createUser(app)
  const other = await createUser(app)
  const listed = await app.inject({ method: 'GET', url: '/api/users', headers: user.auth })
  t.equal(listed.statusCode, 200)
  const renamed = await app.inject({ method: 'PUT', url: `/api/users/${other.id}`, headers: other.auth, payload: { nickname: `${other.nickname}2`, password: 'a new password' } })
  t.equal(renamed.statusCode, 204)
  const posted = await app.inject({ method: 'POST', url: '/api/messages', headers: { ...user.auth, prefer: 'wait=10' }, payload: { source: 'hello' } })
  t.equal(posted.statusCode, 201)
  const signedOut = await app.inject({ method: 'DELETE', url: '/api/tokens', headers: user.auth })
  t.equal(signedOut.statusCode, 204)
  t.same(prismaModules(), [], 'no Prisma module was loaded')
})

const isOnline = async (app: FastifyInstance, id: number): Promise<boolean> =>
  (await app.pg.query<{ online: boolean }>('SELECT online FROM users WHERE id = $1', [id])).rows[0].online

t.test('the push service ties a socket to its user, streams a post and unties it without loading the Prisma client', async (t) => {
  const api = await buildTestApi(t)
  await buildTestWorker(t)
  const { url } = await startTestPush(t)
  const user = await createUser(api)
  await api.pg.query('UPDATE users SET online = false WHERE id = $1', [user.id])
  const client = await connect(t, url)
  client.send({ type: 'ping_user', token: user.token, ref: 'tie' })
  t.match(await client.nextMatching((f) => f.ref === 'tie'), { type: 'ack' }, 'tied')
  await eventually(() => isOnline(api, user.id))
  client.send({ type: 'post_message', token: user.token, source: 'through push', ref: 'post' })
  t.match(await client.nextMatching((f) => f.ref === 'post'), { type: 'ack' }, 'post queued')
  const posted = await client.nextMatching((f) => f.type === 'updated_model' && f.class === 'Message' && f.model?.source === 'through push', 10000)
  t.equal(posted.model?.user_id, user.id, 'the post came back on the socket')
  await client.close()
  await eventually(async () => !await isOnline(api, user.id))
  t.pass('closing its last socket took the user offline')
  t.same(prismaModules(), [], 'no Prisma module was loaded')
})
