import t from 'tap'
import { publishEvent } from '../../lib/queries/events'
import { MESSAGE_COLUMNS, membershipJson, messageJson, type MessageRow } from '../../lib/models'
import { buildTestApi, createUser, waitFor } from '../helper'
import { addMember, createRoom } from '../rooms/helper'

// An event's readers are read after the publishing lock is taken: a message published while a
// removal commits never names the removed member, nor misses one added just before it.
t.test('a message published while a membership change commits has the readers of after the change', async (t) => {
  const api = await buildTestApi(t)
  const [owner, bob, carol] = [await createUser(api), await createUser(api), await createUser(api)]
  const room = await createRoom(api, owner, 'racy', true)
  await addMember(api, owner, room.id, bob.id)

  const changing = await api.pg.connect()
  const posting = await api.pg.connect()
  t.teardown(() => { changing.release(); posting.release() })
  await changing.query('BEGIN')
  await changing.query('DELETE FROM memberships WHERE room_id = $1 AND user_id = $2', [room.id, bob.id])
  await changing.query("INSERT INTO memberships (room_id, user_id) VALUES ($1, $2)", [room.id, carol.id])
  await publishEvent(changing, 'Membership', membershipJson({ roomId: room.id, userId: bob.id, role: null, lastReadId: null }))

  await posting.query('BEGIN')
  const { rows } = await posting.query<MessageRow>(
    `INSERT INTO messages (source, html, user_id, room_id) VALUES ('m', 'm', $1, $2) RETURNING ${MESSAGE_COLUMNS}`, [owner.id, room.id])
  // Waits for the lock the change holds until it commits.
  const published = publishEvent(posting, 'Message', messageJson(rows[0]))
  await waitFor(async () => (await api.pg.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).rowCount, 10000, 'the publisher waiting')
  await changing.query('COMMIT')
  const seq = await published
  await posting.query('COMMIT')

  const event = await api.pg.query<{ readers: number[] }>('SELECT readers FROM events WHERE seq = $1', [String(seq)])
  t.same([...event.rows[0].readers].sort((x, y) => x - y), [owner.id, carol.id].sort((x, y) => x - y), 'the members after the change')
})
