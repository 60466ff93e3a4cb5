import t, { type Test } from 'tap'
import pg from 'pg'
import { randomBytes } from 'node:crypto'
import { migrate, readMigrations } from '../../lib/migrations'
import { adminQuery, buildTestApi } from '../helper'

const ROOMS_MIGRATION = readMigrations().map((m) => m.name).find((name) => name.endsWith('_rooms'))
const LATER_MIGRATION = readMigrations().map((m) => m.name).find((name) => name > ROOMS_MIGRATION!)

// An empty database of this test's own (not the migrated template), dropped when the test ends.
async function emptyDatabase (t: Test): Promise<string> {
  const name = `flack_test_rooms_migration_${process.pid}_${randomBytes(4).toString('hex')}`
  await adminQuery(`CREATE DATABASE ${name}`)
  t.teardown(() => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  const url = new URL(String(process.env.FLACK_TEST_ADMIN_URL))
  url.pathname = `/${name}`
  return url.toString()
}

type Row = Record<string, unknown>
const snapshot = async (client: pg.Client, sql: string): Promise<Row[]> => (await client.query(sql)).rows

t.test('the rooms migration keeps every message of a database in use and puts it in general', async (t) => {
  t.ok(ROOMS_MIGRATION, 'the rooms migration exists')
  const url = await emptyDatabase(t)
  const earlier = await migrate(url, undefined, ROOMS_MIGRATION)
  t.same(earlier, readMigrations().map((m) => m.name).filter((name) => name < ROOMS_MIGRATION!), 'migrated up to the previous migration')

  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  // Data as the previous schema held it: users, messages of every age (some edited), their tasks and events.
  await client.query(`INSERT INTO users (nickname, password_hash, created_at, updated_at, last_seen_at, online)
                      SELECT 'old' || i, 'scrypt$x', now() - i * interval '1 day', now(), now(), i % 2 = 0 FROM generate_series(1, 20) AS i`)
  await client.query(`INSERT INTO messages (source, html, user_id, created_at, updated_at)
                      SELECT 'message *' || i || '*', 'message <em>' || i || '</em>', (SELECT min(id) FROM users) + i % 20,
                             now() - i * interval '1 hour', now() - i * interval '1 hour' + (i % 3) * interval '1 minute'
                      FROM generate_series(1, 1000) AS i`)
  await client.query(`INSERT INTO tasks (id, user_id, kind, status, message_id, response_status)
                      SELECT gen_random_uuid(), user_id, 'post_message', 'done', id, 201 FROM messages WHERE id % 10 = 0`)
  await client.query("INSERT INTO events (class, model) SELECT 'Message', json_build_object('id', id) FROM messages WHERE id % 7 = 0")
  const messages = 'SELECT id, created_at, updated_at, source, html, user_id FROM messages ORDER BY id'
  const before = {
    users: await snapshot(client, 'SELECT * FROM users ORDER BY id'),
    messages: await snapshot(client, messages),
    tasks: await snapshot(client, 'SELECT * FROM tasks ORDER BY id'),
    events: await snapshot(client, 'SELECT * FROM events ORDER BY seq'),
  }

  t.same(await migrate(url, undefined, LATER_MIGRATION), [ROOMS_MIGRATION], 'then the rooms migration alone')

  t.same(await snapshot(client, 'SELECT * FROM users ORDER BY id'), before.users, 'users unchanged')
  t.same(await snapshot(client, messages), before.messages, 'every message kept as it was')
  t.same(await snapshot(client, 'SELECT * FROM tasks ORDER BY id'), before.tasks, 'tasks unchanged')
  t.same(await snapshot(client, 'SELECT * FROM events ORDER BY seq'), before.events, 'events unchanged')
  t.same(await snapshot(client, 'SELECT room_id, edited_at, deleted, count(*)::int AS n FROM messages GROUP BY 1, 2, 3'),
    [{ room_id: 1, edited_at: null, deleted: false, n: 1000 }], 'all in general, none edited or deleted')
  t.same(await snapshot(client, 'SELECT id, name, kind, topic, created_by FROM rooms'),
    [{ id: 1, name: 'general', kind: 'public', topic: '', created_by: null }], 'general is room 1, public')
  t.equal((await client.query('SELECT count(*)::int AS n FROM memberships')).rows[0].n, 0, 'general needs no membership rows')

  // The migrated database serves: a Flack-style insert lands in general, the next room is 2.
  const inserted = await client.query("INSERT INTO messages (source, html, user_id) SELECT 'new', 'new', min(id) FROM users RETURNING id, room_id")
  t.equal(inserted.rows[0].room_id, 1, 'an insert that names no room goes to general')
  const room = await client.query("INSERT INTO rooms (name, name_key, kind) VALUES ('second', 'second', 'public') RETURNING id")
  t.equal(room.rows[0].id, 2, 'rooms made later start at 2')

  await migrate(url)
  const api = await buildTestApi(t, { DATABASE_URL: url })
  const general = await api.inject('/api/rooms/1')
  t.equal(general.statusCode, 200)
  t.match(general.json(), { id: 1, name: 'general', kind: 'public', member_count: 20 })
  const page = await api.inject('/api/rooms/1/messages?limit=100')
  const ids = [...before.messages.map((m) => m.id as number), inserted.rows[0].id as number]
  t.same(page.json().messages.map((m: { id: number }) => m.id), ids.slice(-100), 'general\'s newest page, oldest first')
})
