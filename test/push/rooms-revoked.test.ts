import t from 'tap'
import { buildTestApi, createUser, type TestUser } from '../helper'
import { buildTestWorker } from '../worker/helper'
import { addMember, createRoom } from '../rooms/helper'
import { connect, startTestPush, type TestClient } from './helper'

// Posts through REST and waits for the message to be stored.
async function post (api: Awaited<ReturnType<typeof buildTestApi>>, user: TestUser, source: string, roomId: number): Promise<void> {
  const res = await api.inject({ method: 'POST', url: `/api/rooms/${roomId}/messages`, headers: { ...user.auth, prefer: 'wait=5' }, payload: { source } })
  if (res.statusCode !== 201) throw new Error(`post failed: ${res.statusCode} ${res.body}`)
}

const sources = (client: TestClient): string[] =>
  client.frames.filter((f) => f.type === 'updated_model' && f.class === 'Message').map((f) => f.model?.source as string)

// The view of private rooms lasts only as long as the token that gave it: signing out, revoking
// every token, or a ping_user with a token that no longer holds all leave the socket the public view.
for (const how of ['signs out', 'has every token revoked', 'pings with a token that no longer holds'] as const) {
  t.test(`a socket whose user ${how} stops getting the user's private rooms at once`, async (t) => {
    const api = await buildTestApi(t)
    await buildTestWorker(t)
    const { url } = await startTestPush(t)
    const [alice, bob] = [await createUser(api), await createUser(api)]
    const secret = await createRoom(api, alice, `den-${process.pid}`, true)
    await addMember(api, alice, secret.id, bob.id)
    const socket = await connect(t, url)
    socket.send({ type: 'ping_user', token: alice.token, ref: 'p' })
    await socket.nextMatching((f) => f.type === 'ack' && f.ref === 'p')
    await post(api, bob, 'seen while signed in', secret.id)
    await socket.nextMatching((f) => f.model?.source === 'seen while signed in', 10000)

    if (how === 'signs out') {
      t.equal((await api.inject({ method: 'DELETE', url: '/api/tokens', headers: alice.auth })).statusCode, 204)
    } else if (how === 'has every token revoked') {
      await api.revokeUserTokens(api.pg, alice.id)
    } else {
      t.equal((await api.inject({ method: 'DELETE', url: '/api/tokens', headers: alice.auth })).statusCode, 204)
      socket.send({ type: 'ping_user', token: alice.token, ref: 'again' })
      await socket.nextMatching((f) => f.type === 'error' && f.ref === 'again')
    }
    await post(api, bob, 'after the revocation', secret.id)
    await post(api, bob, 'in general', 1)
    await socket.nextMatching((f) => f.model?.source === 'in general', 10000)
    t.notOk(sources(socket).includes('after the revocation'), 'nothing of the private room after the revocation')
  })
}
