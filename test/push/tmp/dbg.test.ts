import t from 'tap'
import { buildTestApi, createUser } from '../../helper'
import { connect, startTestPush } from '../helper'
import { markUsersOffline } from '../../../plugins/presence'
t.test('dbg', async (t) => {
  const api = await buildTestApi(t)
  const { app, url } = await startTestPush(t, { LOG_LEVEL: 'debug' })
  const user = await createUser(api)
  console.log(await markUsersOffline(app.prisma, { userIds: [user.id], liveWithinSeconds: 60 }))
  const client = await connect(t, url)
  client.send({ type: 'ping_user', token: user.token, ref: 'p1' })
  const frames = await client.drain(1500)
  console.log(JSON.stringify(frames), client.ws.readyState, app.push.connections.size)
})
