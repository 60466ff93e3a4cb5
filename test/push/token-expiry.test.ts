import t from 'tap'
import { buildTestApi, createUser } from '../helper'
import { addMember, createRoom } from '../rooms/helper'
import { startTestPush } from './helper'
import { postInRoom, socketAs } from './rooms-helper'

const GENERAL = 1

// When the token's `exp` claim (TOKEN_TTL_SECONDS after sign-in) passes.
const expiresAt = (token: string): number => 1000 * (JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { exp: number }).exp

// Rule: a socket's private view lasts as long as the token that gave it. Messages are posted into
// the private room all the while, from before the expiry to after it: whatever was published once
// the expiry had passed never reaches the socket, with no ping_user needed to notice it.
t.test('a socket drops to the public view when its token expires, with no private frame after', async (t) => {
  // Alice signs in on an api whose tokens live 3 s; Bob's token is an ordinary one.
  const shortApi = await buildTestApi(t, { TOKEN_TTL_SECONDS: 3 })
  const api = await buildTestApi(t)
  const push = await startTestPush(t)
  const alice = await createUser(shortApi)
  const bob = await createUser(api)
  const room = await createRoom(api, bob, `brief-${process.pid}`, true)
  await addMember(api, bob, room.id, alice.id)
  const expiry = expiresAt(alice.token)
  const socket = await socketAs(t, push.url, alice)

  // Published once the expiry had passed: none of these may arrive.
  const late = new Set<number>()
  let early = 0
  for (let i = 0; Date.now() < expiry + 1500; i++) {
    const started = Date.now()
    const seq = await postInRoom(api.pg, room.id, bob.id, `m${i}`)
    if (started > expiry) late.add(seq)
    else early++
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const fence = await postInRoom(api.pg, GENERAL, bob.id, 'fence')
  await socket.nextMatching((f) => f.seq === fence, 15000)
  const privateSeqs = socket.frames.filter((f) => f.type === 'updated_model' && f.model?.room_id === room.id).map((f) => f.seq as number)
  t.ok(early > 0 && privateSeqs.length > 0, `the socket saw the private room before the expiry (${privateSeqs.length} of ${early})`)
  t.ok(late.size > 0, `${late.size} messages published after the expiry`)
  t.same(privateSeqs.filter((seq) => late.has(seq)), [], 'nothing published after the expiry reached the socket')
  t.notOk(socket.frames.some((f) => f.type === 'error'), 'no ping_user was needed (and none failed)')
})
