import t from 'tap'
import { faultyRelay } from '../support/net'
import { buildTestApi, createUser, listeningBackends, testEnv, testPool, waitFor } from '../helper'
import { addMember, createRoom } from '../rooms/helper'
import { startTestPush } from './helper'
import { postInRoom, socketAs } from './rooms-helper'

const GENERAL = 1

// Rule: an announcement missed while the push's LISTEN connection was down still takes effect: after
// the reconnect, nothing private flows to a socket whose token was revoked (or whose user was removed
// from the room) during the gap, neither the events of the gap nor later ones.
for (const what of ['token revoked', 'member removed'] as const) {
  t.test(`after a LISTEN outage in which a ${what === 'token revoked' ? 'token was revoked' : 'member was removed'}, nothing private flows`, async (t) => {
    const api = await buildTestApi(t)
    const relay = await faultyRelay(t, String((await testEnv(t)).DATABASE_URL))
    const push = await startTestPush(t, { DATABASE_URL: relay.url })
    const pool = await testPool(t)
    const [alice, bob] = [await createUser(api), await createUser(api)]
    const room = await createRoom(api, bob, `gap-${process.pid}`, true)
    await addMember(api, bob, room.id, alice.id)
    const socket = await socketAs(t, push.url, alice)
    // Bob's token holds throughout: his view must survive the check after the reconnect.
    const bobSocket = await socketAs(t, push.url, bob)
    const before = await postInRoom(api.pg, room.id, bob.id, 'before')
    await socket.nextMatching((f) => f.seq === before, 10000)

    const listeners = await listeningBackends(pool)
    t.ok(listeners.length >= 2, 'the api and the push listen')
    relay.refuse()
    await pool.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [listeners])
    // The push tried to listen again, and could not.
    await waitFor(async () => relay.refused() > 0, 15000, 'the push to try reconnecting')
    if (what === 'token revoked') {
      t.equal((await api.inject({ method: 'DELETE', url: '/api/tokens', headers: alice.auth })).statusCode, 204)
    } else {
      t.equal((await api.inject({ method: 'DELETE', url: `/api/rooms/${room.id}/members/${alice.id}`, headers: bob.auth })).statusCode, 204)
    }
    const inGap = await postInRoom(api.pg, room.id, bob.id, 'in the gap')
    relay.admit()
    await waitFor(async () => (await listeningBackends(pool)).length >= listeners.length, 15000, 'the listeners to reconnect')
    const after = await postInRoom(api.pg, room.id, bob.id, 'after')
    const fence = await postInRoom(api.pg, GENERAL, bob.id, 'fence')
    await socket.nextMatching((f) => f.seq === fence, 15000)
    const seen = socket.frames.map((f) => f.seq)
    t.notOk(seen.includes(inGap), 'not the private event of the gap')
    t.notOk(seen.includes(after), 'not a private event after the reconnect')
    await bobSocket.nextMatching((f) => f.seq === fence, 15000)
    t.ok([inGap, after].every((seq) => bobSocket.frames.some((f) => f.seq === seq)), 'a socket whose token holds gets both')
  })
}
