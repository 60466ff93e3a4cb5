import t from 'tap'
import fc from 'fast-check'
import type pg from 'pg'
import { markUsersOffline } from '../../lib/queries/presence'
import { buildTestApi, createUser, testPool, waitFor, type TestUser } from '../helper'
import { pageSocket, startTestPush, type PageSocket } from './helper'

const OFFLINE_AFTER_SECONDS = 2
const USERS = 3

// While on, connection rows can be neither written nor removed: ties and unties fail as in an outage.
async function refusePresence (pool: pg.Pool): Promise<(on: boolean) => Promise<void>> {
  await pool.query(`CREATE FUNCTION refuse_presence() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'presence refused'; END $$`)
  await pool.query('CREATE TRIGGER refuse_presence BEFORE INSERT OR DELETE ON push_connections FOR EACH ROW EXECUTE FUNCTION refuse_presence()')
  const set = async (on: boolean): Promise<void> => { await pool.query(`ALTER TABLE push_connections ${on ? 'ENABLE' : 'DISABLE'} TRIGGER refuse_presence`) }
  await set(false)
  return set
}

const op = fc.record({ open: fc.boolean(), user: fc.nat({ max: USERS - 1 }), pick: fc.nat() })
const phase = fc.array(op, { minLength: 4, maxLength: 16 })

// Rule (issue 12 #13): whatever sockets open, tie, fail and close while presence writes fail, once
// they work again each user is online exactly when a socket of theirs is open, with one row per socket.
t.test('property: presence converges after any opens and closes during a presence outage', async (t) => {
  const api = await buildTestApi(t)
  const { app, url } = await startTestPush(t, { OFFLINE_AFTER_SECONDS })
  const pool = await testPool(t)
  const users: TestUser[] = []
  for (let i = 0; i < USERS; i++) users.push(await createUser(api))
  await markUsersOffline(api.pg, { userIds: users.map((u) => u.id), liveWithinSeconds: OFFLINE_AFTER_SECONDS })
  const outage = await refusePresence(pool)

  const state = async (): Promise<Array<{ online: boolean, rows: number }>> => {
    const { rows } = await pool.query<{ id: number, online: boolean, rows: string }>(
      'SELECT u.id, u.online, (SELECT count(*) FROM push_connections c WHERE c.user_id = u.id) AS rows FROM users u WHERE u.id = ANY($1)', [users.map((u) => u.id)])
    return users.map((u) => rows.find((r) => r.id === u.id)!).map((r) => ({ online: r.online, rows: Number(r.rows) }))
  }
  let steps = 0
  let failedPings = 0
  await fc.assert(fc.asyncProperty(phase, phase, phase, async (before, during, after) => {
    const open: PageSocket[][] = users.map(() => [])
    const run = async (ops: typeof before, down: boolean): Promise<void> => {
      for (const { open: opening, user, pick } of ops) {
        steps++
        const mine = open[user]
        const sockets = app.push.connections.size
        if (opening || mine.length === 0) {
          const page = pageSocket(t, url, users[user].token)
          mine.push(page)
          // Its first ping_user answered (refused, during the outage) or at least sent.
          await waitFor(async () => page.state() === 'open' && (!down || page.errors.length > 0), 10000, 'the socket to open')
          if (down) failedPings++
        } else {
          mine.splice(pick % mine.length, 1)[0].socket.stop()
          await waitFor(async () => app.push.connections.size === sockets - 1, 10000, 'the server to see the close')
        }
      }
    }
    await run(before, false)
    await outage(true)
    await run(during, true)
    await outage(false)
    await run(after, false)
    const wanted = open.map((mine) => ({ online: mine.length > 0, rows: mine.length }))
    await waitFor(async () => JSON.stringify(await state()) === JSON.stringify(wanted), 15000, 'presence to converge')
      .catch(async (err: Error) => { throw new Error(`${err.message}: wanted ${JSON.stringify(wanted)}, have ${JSON.stringify(await state())}`) })
    for (const mine of open) for (const page of mine) page.socket.stop()
    await waitFor(async () => (await state()).every((s) => !s.online && s.rows === 0), 15000, 'everyone offline once every socket closed')
  }), { seed: 13, numRuns: 10, endOnFailure: true })
  t.pass(`${steps} opens and closes, ${failedPings} of them opened during the outage, converged every time`)
})
