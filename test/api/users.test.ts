import t from 'tap'
import { buildTestApi, createUser } from '../helper'

t.test('register and fetch a user', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app, 'alice')
  const res = await app.inject({ method: 'GET', url: `/api/users/${user.id}` })
  t.equal(res.statusCode, 200)
  t.equal(res.json().nickname, 'alice')
  t.notOk('password_hash' in res.json())
})
