import t from 'tap'
import { buildTestApi, createUser, eventually } from '../helper'
import { addMember, createRoom } from '../rooms/helper'
import { startTestPush, type Frame, type TestClient } from './helper'
import { framesUntil, postInRoom, socketAs } from './rooms-helper'

const GENERAL = 1

// Sends a frame with a ref and waits for its answer (ack or error), leaving other frames queued.
async function answer (client: TestClient, frame: Record<string, unknown>): Promise<Frame> {
  const ref = `r${Math.random()}`
  client.send({ ...frame, ref })
  const found = async (): Promise<Frame | undefined> => client.frames.find((f) => f.ref === ref)
  await eventually(async () => (await found()) !== undefined, 10000)
  return (await found())!
}

// Typing frames up to the fence: a typing notice of `fence` (a user and room) everyone else gets.
type TypingFrame = Frame & { room_id?: number, user_id?: number }

async function typingUntil (client: TestClient, fence: { room_id: number, user_id: number }): Promise<Frame[]> {
  const seen: Frame[] = []
  for (;;) {
    const frame: TypingFrame = await client.nextMatching((f) => f.type === 'typing', 10000)
    if (frame.room_id === fence.room_id && frame.user_id === fence.user_id) return seen
    seen.push(frame)
  }
}

t.test('typing reaches the room\'s other readers on every instance, once per interval, and never anyone else', async (t) => {
  const api = await buildTestApi(t)
  // A long interval, so "once per interval" does not depend on how fast this machine runs.
  const a = await startTestPush(t, {}, { typingIntervalMs: 60_000 })
  const b = await startTestPush(t, {}, { typingIntervalMs: 60_000 })
  const [alice, bob, carol, eve] = [await createUser(api), await createUser(api), await createUser(api), await createUser(api)]
  const room = await createRoom(api, alice, 'whispers', true)
  await addMember(api, alice, room.id, bob.id)

  const aliceA = await socketAs(t, a.url, alice)
  const aliceB = await socketAs(t, b.url, alice)
  const bobB = await socketAs(t, b.url, bob)
  const carolA = await socketAs(t, a.url, carol)
  const outsiders = [await socketAs(t, a.url, eve), await socketAs(t, b.url, eve), await socketAs(t, b.url, null), await socketAs(t, a.url, null)]

  for (const [client, times] of [[aliceA, 3], [aliceB, 3]] as const) {
    for (let i = 0; i < times; i++) t.match(await answer(client, { type: 'typing', token: alice.token, room_id: room.id }), { type: 'ack' })
  }
  // The fence: carol typing in general, which every socket but hers shows.
  t.match(await answer(carolA, { type: 'typing', token: carol.token, room_id: GENERAL }), { type: 'ack' })
  const fence = { room_id: GENERAL, user_id: carol.id }

  t.same(await typingUntil(bobB, fence), [{ type: 'typing', room_id: room.id, user_id: alice.id }], 'the other member: once, from either instance')
  for (const alices of [aliceA, aliceB]) t.same(await typingUntil(alices, fence), [], 'not to the typist')
  for (const outsider of outsiders) t.same(await typingUntil(outsider, fence), [], 'nothing of the private room to anyone else')

  const outsiderAnswer = await answer(outsiders[0], { type: 'typing', token: eve.token, room_id: room.id })
  const missingAnswer = await answer(outsiders[0], { type: 'typing', token: eve.token, room_id: 2147483647 })
  t.same({ ...outsiderAnswer, ref: 0 }, { ...missingAnswer, ref: 0 }, 'into a room one may not read: exactly as into a missing one')
  t.match(outsiderAnswer, { type: 'error', error: 'Room not found' })
  t.match(await answer(outsiders[0], { type: 'typing', token: eve.token, room_id: 'x' }), { type: 'error', error: 'room_id must be a positive integer' })

  // Never stored: a replay holds events only.
  const fenceSeq = await postInRoom(api.pg, GENERAL, carol.id, 'fence')
  const replayed = await socketAs(t, a.url, null, { since: 0, auth: true })
  replayed.send({ type: 'ping_user', token: bob.token })
  await framesUntil(replayed, fenceSeq)
  t.same(replayed.frames.filter((frame) => frame.type === 'typing'), [], 'typing is never replayed')
})
