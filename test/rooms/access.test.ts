import t from 'tap'
import fc from 'fast-check'
import type pg from 'pg'
import { buildTestApi, createUser, testPool, type TestUser } from '../helper'

// The access rule, over generated sequences of membership changes, checked against a model:
// a public room is readable by anyone, a private or direct room by its members only; every
// request's status is the model's; an owner who leaves hands over to the longest-standing member.

type Kind = 'public' | 'private' | 'direct'
interface ModelRoom { id: number, kind: Kind, members: number[], owner: number | null }

type Action =
  | { type: 'create', actor: number, kind: 'public' | 'private' }
  | { type: 'direct', actor: number, other: number }
  | { type: 'join' | 'leave', actor: number, room: number }
  | { type: 'add' | 'remove', actor: number, room: number, target: number }

const USERS = 4
const user = fc.nat({ max: USERS - 1 })
const room = fc.nat({ max: 3 }) // an index into the rooms made so far (modulo), or none yet
// Membership changes outweigh new rooms, so rooms fill up and owners leave full rooms.
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ type: fc.constant('create' as const), actor: user, kind: fc.constantFrom('public' as const, 'private' as const) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('direct' as const), actor: user, other: user }) },
  { weight: 4, arbitrary: fc.record({ type: fc.constantFrom('join' as const, 'leave' as const), actor: user, room }) },
  { weight: 4, arbitrary: fc.record({ type: fc.constantFrom('add' as const, 'remove' as const), actor: user, room, target: user }) },
)

// Leaving and removing mostly pick among the actor's own rooms, so owners do leave full rooms.
function pick (rooms: ModelRoom[], a: Action & { room: number }, actorId: number): ModelRoom {
  const own = a.type === 'leave' || a.type === 'remove' ? rooms.filter((r) => r.members.includes(actorId)) : []
  const from = own.length > 0 && a.room % 4 !== 0 ? own : rooms
  return from[a.room % from.length]
}

const readable = (r: ModelRoom, userId: number | null): boolean => r.kind === 'public' || (userId !== null && r.members.includes(userId))

// What the API must answer to a membership change in the model's state, and the state after it.
function expected (r: ModelRoom, type: 'join' | 'leave' | 'add' | 'remove', actor: number, target: number): { status: number, apply?: (r: ModelRoom) => void } {
  if (!readable(r, actor)) return { status: 404 }
  if (type === 'join' || type === 'add') {
    if (r.kind === 'direct') return { status: 403 }
    if (r.kind === 'public' && target !== actor) return { status: 403 }
    return { status: 204, apply: (m) => { if (!m.members.includes(target)) m.members.push(target) } }
  }
  if (!r.members.includes(target)) return { status: 404 }
  if (r.kind === 'direct') return { status: 403 }
  if (target !== actor && r.owner !== actor) return { status: 403 }
  return {
    status: 204,
    apply: (m) => {
      m.members = m.members.filter((id) => id !== target)
      if (m.owner === target) m.owner = m.members[0] ?? null
    },
  }
}

async function ownerTie (pool: pg.Pool, roomId: number, a: number, b: number): Promise<boolean> {
  const { rows } = await pool.query('SELECT DISTINCT joined_at FROM memberships WHERE room_id = $1 AND user_id = ANY($2::int[])', [roomId, [a, b]])
  return rows.length === 1
}

t.test('property: every answer and every view follows the access rule', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const users: TestUser[] = []
  for (let i = 0; i < USERS; i++) users.push(await createUser(app))
  const ids = users.map((u) => u.id)
  const viewers: Array<TestUser | null> = [...users, null]
  const directs = new Map<string, number>()
  let checked = 0
  let handOvers = 0 // owners leaving with two or more members to choose from

  await fc.assert(fc.asyncProperty(fc.array(action, { minLength: 12, maxLength: 30, size: 'max' }), async (actions) => {
    const rooms: ModelRoom[] = []
    for (const a of actions) {
      const actor = users[a.actor]
      if (a.type === 'create') {
        const res = await app.inject({ method: 'POST', url: '/api/rooms', headers: actor.auth, payload: { name: `r${Math.random()}`, private: a.kind === 'private' } })
        if (res.statusCode !== 201) throw new Error(`create: ${res.statusCode} ${res.body}`)
        rooms.push({ id: res.json().id, kind: a.kind, members: [actor.id], owner: actor.id })
        continue
      }
      if (a.type === 'direct') {
        const key = [actor.id, ids[a.other]].sort().join(':')
        const res = await app.inject({ method: 'POST', url: `/api/users/${ids[a.other]}/direct`, headers: actor.auth })
        const known = directs.get(key)
        if (res.statusCode !== (known === undefined ? 201 : 200)) throw new Error(`direct ${key}: ${res.statusCode}, known: ${known}`)
        if (known !== undefined && res.json().id !== known) throw new Error(`direct ${key}: a second room`)
        directs.set(key, res.json().id)
        if (!rooms.some((r) => r.id === res.json().id)) rooms.push({ id: res.json().id, kind: 'direct', members: [...new Set([actor.id, ids[a.other]])], owner: null })
        continue
      }
      if (rooms.length === 0) continue
      const r = pick(rooms, a, actor.id)
      const target = 'target' in a ? ids[a.target] : actor.id
      const method = a.type === 'join' || a.type === 'add' ? 'PUT' : 'DELETE'
      const res = await app.inject({ method, url: `/api/rooms/${r.id}/members/${target}`, headers: actor.auth })
      const want = expected(r, a.type, actor.id, target)
      if (res.statusCode !== want.status) throw new Error(`${a.type} by ${actor.id} of ${target} in ${r.kind} room ${JSON.stringify(r)}: ${res.statusCode} ${res.body}, expected ${want.status}`)
      if (want.status === 204 && method === 'DELETE' && r.owner === target && r.members.length > 2) handOvers++
      want.apply?.(r)
      // Owners joined in the same millisecond are equally long-standing: either may inherit.
      const { rows } = await pool.query("SELECT user_id FROM memberships WHERE room_id = $1 AND role = 'owner'", [r.id])
      const owner = rows[0]?.user_id ?? null
      if (owner !== r.owner) {
        if (owner === null || r.owner === null || !await ownerTie(pool, r.id, owner, r.owner)) throw new Error(`room ${r.id}: owner ${owner}, expected ${r.owner}`)
        r.owner = owner
      }
    }
    // Every viewer (anonymous too) sees exactly the rooms the rule lets them read, on every path.
    for (const viewer of viewers) {
      const viewerId = viewer?.id ?? null
      const headers = viewer?.auth ?? {}
      const listed = new Map<number, { member?: boolean, role?: string | null, member_count: number }>(
        (await app.inject({ method: 'GET', url: '/api/rooms', headers })).json().rooms.map((r: { id: number }) => [r.id, r]))
      for (const r of rooms) {
        const may = readable(r, viewerId)
        const view = listed.get(r.id)
        if ((view !== undefined) !== may) throw new Error(`viewer ${viewerId}: room ${JSON.stringify(r)} listed: ${view !== undefined}`)
        for (const path of ['', '/members', '/messages']) {
          const status = (await app.inject({ method: 'GET', url: `/api/rooms/${r.id}${path}`, headers })).statusCode
          if (status !== (may ? 200 : 404)) throw new Error(`viewer ${viewerId}: GET room ${r.id}${path}: ${status}`)
        }
        if (view === undefined) continue
        if (view.member_count !== r.members.length) throw new Error(`room ${r.id}: member_count ${view.member_count}, expected ${r.members.length}`)
        if (viewerId !== null) {
          const role = !r.members.includes(viewerId) ? null : r.owner === viewerId ? 'owner' : 'member'
          if (view.member !== (role !== null) || view.role !== role) throw new Error(`viewer ${viewerId} of room ${r.id}: ${view.member}/${view.role}, expected ${role}`)
        }
      }
      checked++
    }
  }), { seed: 20261130, numRuns: 50 })
  t.ok(checked >= 50 * viewers.length, `${checked} views checked`)
  t.ok(handOvers >= 2, `${handOvers} hand-overs with a choice`)
})
