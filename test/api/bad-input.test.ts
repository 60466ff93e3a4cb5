import t from 'tap'
import type { InjectOptions } from 'fastify'
import { buildTestApi, createUser, rowCount, testEnv } from '../helper'
import { buildApi } from '../../services/api/app'

t.test('malformed and hostile requests get a 4xx, change nothing and never a 500', async (t) => {
  const app = await buildTestApi(t, { BODY_LIMIT_BYTES: 4096 })
  const user = await createUser(app)
  const count = async (): Promise<[number, number]> => [await rowCount(app, 'users'), await rowCount(app, 'tokens')]
  const before = await count()
  const json = { 'content-type': 'application/json' }
  const requests: Array<[string, number, InjectOptions]> = [
    ['malformed JSON', 400, { method: 'POST', url: '/api/users', headers: json, payload: '{"nickname": "x", ' }],
    ['JSON null', 400, { method: 'POST', url: '/api/users', headers: json, payload: 'null' }],
    ['JSON string', 400, { method: 'POST', url: '/api/users', headers: json, payload: '"hello"' }],
    ['empty JSON body', 400, { method: 'POST', url: '/api/users', headers: json, payload: '' }],
    ['proto pollution', 400, { method: 'POST', url: '/api/users', headers: json, payload: '{"__proto__": {"admin": true}, "nickname": "p", "password": "password1"}' }],
    ['oversized body', 413, { method: 'POST', url: '/api/users', headers: json, payload: JSON.stringify({ nickname: 'big', password: 'x'.repeat(8000) }) }],
    ['wrong content type', 415, { method: 'POST', url: '/api/users', headers: { 'content-type': 'application/xml' }, payload: '<user/>' }],
    ['form encoded', 415, { method: 'POST', url: '/api/users', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'nickname=a&password=b' }],
    ['PUT with malformed JSON', 400, { method: 'PUT', url: `/api/users/${user.id}`, headers: { ...json, ...user.auth }, payload: '{' }],
    ['PUT with wrong types', 400, { method: 'PUT', url: `/api/users/${user.id}`, headers: user.auth, payload: { nickname: { $ne: 1 } } }],
    ['unknown route', 404, { method: 'GET', url: '/api/nothing' }],
    ['unsupported method', 404, { method: 'PATCH', url: '/api/users/1' }],
    ['huge header token', 401, { method: 'GET', url: '/api/users', headers: { authorization: `Bearer ${'a'.repeat(6000)}` } }],
    ['unicode in basic', 401, { method: 'POST', url: '/api/tokens', headers: { authorization: `Basic ${Buffer.from('ü\u0000:\uffff').toString('base64')}` } }],
  ]
  for (const [name, status, req] of requests) {
    const res = await app.inject(req)
    t.equal(res.statusCode, status, name)
    t.type(res.json().error, 'string', `${name}: error body`)
  }
  t.same(await count(), before, 'nothing changed')
  t.equal((await app.inject({ method: 'GET', url: `/api/users/${user.id}` })).json().nickname, user.nickname)
})

t.test('server errors hide their details', async (t) => {
  const app = await buildApi({ env: await testEnv(t) })
  t.teardown(() => app.close())
  app.get('/boom', async () => { throw new Error('secret internal detail') })
  const res = await app.inject({ method: 'GET', url: '/boom' })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { error: 'Internal server error' })
})
