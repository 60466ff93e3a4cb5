import t from 'tap'
import pg from 'pg'
import { Notifications } from '../../plugins/notifications'
import { eventually, listeningBackends as listeners, testDatabase } from '../helper'
import { faultyRelay } from '../support/net'

// What one subscriber saw, in order.
function recorder (): { seen: string[], connects: number, errors: number, subscriber: Parameters<Notifications['subscribe']>[1] } {
  const record = { seen: [] as string[], connects: 0, errors: 0, subscriber: {} as Parameters<Notifications['subscribe']>[1] }
  record.subscriber = {
    onNotification: (payload) => record.seen.push(payload),
    onConnect: () => record.connects++,
    onError: () => record.errors++,
  }
  return record
}

t.test('every channel shares one connection, which reconnects and tells its subscribers', async (t) => {
  const url = await testDatabase(t)
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  t.teardown(() => db.end())
  const reports: string[] = []
  const notifications = new Notifications(url, (_err, what) => reports.push(what), { retryMs: 50 })
  t.teardown(() => notifications.close())

  const a = recorder()
  const b = recorder()
  // A subscriber that throws is reported; the others and the connection carry on.
  const fail = (): void => { throw new Error('subscriber bug') }
  notifications.subscribe('chan_a', { onNotification: fail, onConnect: fail, onError: fail })
  notifications.subscribe('chan_a', a.subscriber)
  notifications.subscribe('chan_b', b.subscriber)
  await eventually(async () => a.connects === 1 && b.connects === 1)
  // Subscribed once connected: listened to on the same connection.
  const late = recorder()
  const unsubscribeLate = notifications.subscribe('chan_late', late.subscriber)
  await eventually(async () => late.connects === 1)
  const pids = await listeners(db)
  t.equal(pids.length, 1, 'one LISTEN connection')

  await db.query("SELECT pg_notify('chan_a', 'one'), pg_notify('chan_b', 'two'), pg_notify('chan_late', 'three')")
  await eventually(async () => a.seen.length === 1 && b.seen.length === 1 && late.seen.length === 1)
  t.same([a.seen, b.seen, late.seen], [['one'], ['two'], ['three']], 'each channel to its own subscribers')
  t.same(reports, ['a notification subscriber failed', 'a notification subscriber failed'], 'the failing subscriber reported')

  await db.query('SELECT pg_terminate_backend($1)', [pids[0]])
  await eventually(async () => a.errors === 1 && a.connects === 2 && b.connects === 2 && late.connects === 2)
  t.equal(b.errors, 1, 'every subscriber heard of the loss, then of the reconnect')
  const again = await listeners(db)
  t.equal(again.length, 1, 'one connection again')
  t.not(again[0], pids[0], 'a new one')

  unsubscribeLate()
  await db.query("SELECT pg_notify('chan_a', 'four'), pg_notify('chan_late', 'five')")
  await eventually(async () => a.seen.length === 2)
  t.same(a.seen, ['one', 'four'], 'notifications flow after the reconnect')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(late.seen, ['three'], 'an unsubscribed subscriber hears nothing more')
})

t.test('a connection that goes silent without an error is found dead and replaced', async (t) => {
  const url = await testDatabase(t)
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  t.teardown(() => db.end())
  const relay = await faultyRelay(t, url)
  const reports: string[] = []
  const notifications = new Notifications(relay.url, (_err, what) => reports.push(what), { retryMs: 50, checkMs: 200 })
  t.teardown(() => notifications.close())
  const a = recorder()
  notifications.subscribe('chan_a', a.subscriber)
  await eventually(async () => a.connects === 1)

  relay.silence()
  await db.query("SELECT pg_notify('chan_a', 'lost')")
  await eventually(async () => a.connects === 2)
  t.same(reports, ['LISTEN connection lost; reconnecting'], 'noticed by the check, with no error from the socket')
  await db.query("SELECT pg_notify('chan_a', 'after')")
  await eventually(async () => a.seen.includes('after'))
  t.notOk(a.seen.includes('lost'), 'what was sent into the silence never came (subscribers catch up on connect)')
})
