import t from 'tap'
import fc from 'fast-check'
import type pg from 'pg'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { buildTestApi, count, createUser, testPool, waitFor, type TestUser } from '../helper'
import { buildTestWorker } from '../worker/helper'
import { createRoom } from '../rooms/helper'
import { EDIT_MESSAGE, PREVIEW_LINKS } from '../../lib/tasks'

// The rule: once a delete is answered, the message stays a tombstone (deleted, empty source and
// html) and nothing about it is published after the tombstone, whatever worker job (an edit, a
// link preview) was queued before the delete and runs after it.

// A real local web page whose answers wait until the test releases them, so a preview job is
// held mid-fetch while the test deletes its message.
const held: ServerResponse[] = []
let open = false
let hits = 0
const server = createServer((_req, res) => {
  hits++
  held.push(res)
  if (open) release()
})
function release (): void {
  for (const res of held.splice(0)) {
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end('<title>the page</title><meta name="description" content="about it">')
  }
}
t.before(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)))
t.teardown(() => new Promise<void>((resolve) => {
  open = true
  release()
  server.closeAllConnections()
  server.close(() => resolve())
}))
const link = (): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}/page`

// Previews may reach the local page, and wait for it as long as the test holds it.
const WORKER = { LINK_PREVIEW_ALLOW_PRIVATE: true, LINK_PREVIEW_TIMEOUT_MS: 30000 }
const WAIT = { prefer: 'wait=10' }

const del = (app: FastifyInstance, user: TestUser, id: number) => app.inject({ method: 'DELETE', url: `/api/messages/${id}`, headers: user.auth })
const edit = (app: FastifyInstance, user: TestUser, id: number, source: string) =>
  app.inject({ method: 'PUT', url: `/api/messages/${id}`, headers: user.auth, payload: { source } })

async function taskAnswer (app: FastifyInstance, user: TestUser, location: string) {
  return waitFor(async () => {
    const res = await app.inject({ url: location, headers: { ...user.auth, ...WAIT } })
    return res.statusCode !== 202 && res
  }, 20000, `task ${location}`)
}

// Jobs of these kinds still queued or running (graphile-worker's own view of its queue).
const jobsLeft = (pool: pg.Pool, kinds: string[]): Promise<number> =>
  count(pool, 'SELECT 1 FROM graphile_worker.jobs WHERE task_identifier = ANY($1)', [kinds])

// The message's events, in order; the rule holds when the last is the one tombstone and nothing
// before it is deleted.
async function checkTombstone (pool: pg.Pool, id: number): Promise<string | null> {
  const row = (await pool.query('SELECT deleted, source, html FROM messages WHERE id = $1', [id])).rows[0]
  if (JSON.stringify(row) !== JSON.stringify({ deleted: true, source: '', html: '' })) return `row ${id} revived: ${JSON.stringify(row)}`
  const { rows } = await pool.query<{ model: { deleted: boolean, source: string, html: string } }>(
    "SELECT model FROM events WHERE class = 'Message' AND (model->>'id')::int = $1 ORDER BY seq", [id])
  const deleted = rows.map((r) => r.model.deleted)
  if (deleted.indexOf(true) !== rows.length - 1) return `events of ${id} after the tombstone: ${JSON.stringify(rows.map((r) => r.model))}`
  const last = rows[rows.length - 1].model
  if (last.source !== '' || last.html !== '') return `tombstone event of ${id} carries text: ${JSON.stringify(last)}`
  return null
}

t.test('an edit queued before the delete and run after it does not revive the message: its task ends 404', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const alice = await createUser(app)
  const room = await createRoom(app, alice, 'edits')
  const { rows: [{ id }] } = await pool.query('INSERT INTO messages (source, html, user_id, room_id) VALUES ($1, $1, $2, $3) RETURNING id', ['first', alice.id, room.id])
  const queued = await edit(app, alice, id, `second, see ${link()}`)
  t.equal(queued.statusCode, 202, 'queued: no worker runs yet')
  t.equal((await del(app, alice, id)).statusCode, 204)
  const after = await edit(app, alice, id, 'third')
  t.same({ status: after.statusCode, body: after.json() }, { status: 404, body: { error: 'Message not found' } }, 'an edit of a tombstone is refused at once')

  await buildTestWorker(t, WORKER)
  const answer = await taskAnswer(app, alice, queued.headers.location as string)
  t.equal(answer.statusCode, 404, 'the edit queued before ends as for a message that is gone')
  t.equal(answer.body, JSON.stringify({ error: 'Message not found' }))
  t.equal(await checkTombstone(pool, id), null, 'still a tombstone, and nothing published after it')
  t.equal(await jobsLeft(pool, [PREVIEW_LINKS]), 0, 'no preview queued for it')
  t.match((await app.inject(`/api/messages/${id}`)).json(), { deleted: true, source: '', html: '', edited_at: null })
})

t.test('a link preview that finishes after the delete does not bring the text back', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  await buildTestWorker(t, WORKER)
  const alice = await createUser(app)
  const before = hits
  const post = async (source: string) => {
    const res = await app.inject({ method: 'POST', url: '/api/messages', headers: { ...alice.auth, ...WAIT }, payload: { source } })
    t.equal(res.statusCode, 201)
    return res.json() as { id: number, html: string }
  }
  const [gone, kept] = [await post(`gone ${link()}`), await post(`kept ${link()}`)]
  await waitFor(async () => hits >= before + 2, 10000, 'both previews fetching')
  t.equal((await del(app, alice, gone.id)).statusCode, 204, 'deleted while its preview is being fetched')
  release()
  await waitFor(async () => await jobsLeft(pool, [PREVIEW_LINKS]) === 0, 20000, 'the previews done')
  t.equal(await checkTombstone(pool, gone.id), null, 'still a tombstone, and nothing published after it')
  const saved = (await app.inject(`/api/messages/${kept.id}`)).json()
  t.match(saved.html, /<blockquote><p><a href="[^"]+" rel="nofollow">the page<\/a><\/p><p>about it<\/p><\/blockquote>$/, 'the other message got its preview: the job did run')
})

// Generated orderings: edits (with or without links, so with or without preview jobs) queued
// while no worker runs; the worker started before the delete (then more steps, and maybe a settle:
// everything queued so far runs, edits end, previews are held mid-fetch) or after it; releases of
// held previews; repeated deletes; edits after the delete.
type Step = { type: 'edit', links: boolean } | { type: 'delete' } | { type: 'start' } | { type: 'release' } | { type: 'settle' }
const editStep = fc.record({ type: fc.constant('edit' as const), links: fc.boolean() })
const action: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: editStep },
  { weight: 2, arbitrary: fc.constantFrom<Step>({ type: 'settle' }, { type: 'release' }, { type: 'delete' }) },
)
const START: Step = { type: 'start' }
const DELETE: Step = { type: 'delete' }
const insertAt = <T>(list: T[], at: number, item: T): T[] => [...list.slice(0, at % (list.length + 1)), item, ...list.slice(at % (list.length + 1))]
const scenario = fc.record({
  queued: fc.array(editStep, { maxLength: 3 }),
  startBefore: fc.boolean(),
  running: fc.array(action, { maxLength: 3 }),
  settle: fc.boolean(),
  after: fc.array(action, { maxLength: 3 }),
  startAt: fc.nat(),
  previewFirst: fc.boolean(),
}).map(({ queued, startBefore, running, settle, after, startAt, previewFirst }) => ({
  steps: startBefore
    ? [...queued, START, ...running, ...(settle ? [{ type: 'settle' } as Step] : []), DELETE, ...after]
    : [...queued, ...running, DELETE, ...insertAt(after, startAt, START)],
  previewFirst,
}))

t.test('property: whatever the order of edits, previews, the worker and the delete, a deleted message stays a tombstone', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const alice = await createUser(app)
  const room = await createRoom(app, alice, 'orderings')
  const tally = { runs: 0, edits: 0, applied: 0, refused: 0, previewsHeldAcrossDelete: 0 }

  await fc.assert(fc.asyncProperty(scenario, async ({ steps, previewFirst }) => {
    open = false
    const run = tally.runs++
    // Stored as post_message stores it, with its preview job when asked.
    const source = previewFirst ? `run ${run} ${link()}` : `run ${run}`
    const { rows: [{ id }] } = await pool.query<{ id: number }>('INSERT INTO messages (source, html, user_id, room_id) VALUES ($1, $1, $2, $3) RETURNING id', [source, alice.id, room.id])
    if (previewFirst) await pool.query('SELECT graphile_worker.add_job($1, $2::json, max_attempts => 2)', [PREVIEW_LINKS, JSON.stringify({ messageId: id, source })])
    let worker: Awaited<ReturnType<typeof buildTestWorker>> | null = null
    let deleted = false
    const edits: Array<{ location: string, mustFail: boolean }> = []
    try {
      for (const [i, s] of steps.entries()) {
        if (s.type === 'edit') {
          const res = await edit(app, alice, id, s.links ? `run ${run} edit ${i} ${link()}` : `run ${run} edit ${i}`)
          // After the delete: refused at once, nothing queued.
          if (deleted) {
            if (res.statusCode !== 404) throw new Error(`edit ${i} of a tombstone: ${res.statusCode} ${res.body}`)
            tally.edits++
            tally.refused++
            continue
          }
          if (res.statusCode !== 202) throw new Error(`edit ${i}: ${res.statusCode} ${res.body}`)
          // Queued while no worker runs, it can only run after a later delete (see delete).
          edits.push({ location: res.headers.location as string, mustFail: false })
        } else if (s.type === 'delete') {
          if (held.length > 0 && !deleted) tally.previewsHeldAcrossDelete++
          const res = await del(app, alice, id)
          if (res.statusCode !== 204) throw new Error(`delete ${i}: ${res.statusCode} ${res.body}`)
          if (!deleted) for (const e of edits) if (worker === null) e.mustFail = true
          deleted = true
        } else if (s.type === 'start') {
          worker ??= await buildTestWorker(t, WORKER)
        } else if (s.type === 'release') {
          release()
        } else if (worker !== null) {
          // Settle: the edits queued so far end, and every preview job queued is running (held, unless released).
          for (const e of edits) await taskAnswer(app, alice, e.location)
          await waitFor(async () => await count(pool, 'SELECT 1 FROM graphile_worker.jobs WHERE task_identifier = $1 AND locked_at IS NULL', [PREVIEW_LINKS]) === 0,
            20000, 'the preview jobs running')
        }
      }
      worker ??= await buildTestWorker(t, WORKER)
      open = true
      release()
      for (const e of edits) {
        const answer = await taskAnswer(app, alice, e.location)
        tally.edits++
        if (answer.statusCode === 204) tally.applied++
        else tally.refused++
        if (answer.statusCode !== 404 && (e.mustFail || answer.statusCode !== 204)) throw new Error(`edit ${e.location}: ${answer.statusCode} ${answer.body}`)
      }
      await waitFor(async () => await jobsLeft(pool, [EDIT_MESSAGE, PREVIEW_LINKS]) === 0, 20000, 'the jobs done')
    } finally {
      open = true
      release()
      await worker?.close()
    }
    const broken = await checkTombstone(pool, id)
    if (broken !== null) throw new Error(`${JSON.stringify(steps)}: ${broken}`)
  }), { seed: 20261130, numRuns: 20 })
  t.comment(JSON.stringify(tally))
  t.ok(tally.applied > 0 && tally.refused > 0, 'edits both applied before the delete and refused after it')
  t.ok(tally.previewsHeldAcrossDelete > 0, 'previews held across a delete')
})
