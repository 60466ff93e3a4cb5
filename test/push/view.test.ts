import t, { type Test } from 'tap'
import { SocketView } from '../../services/push/view'
import type { Subscriber } from '../../lib/stream/stream'
import { waitFor } from '../helper'
import { startTestPush } from './helper'

// A view on a real instance's stream, for a subscriber that only records what it is sent.
async function setUp (t: Test) {
  const { app } = await startTestPush(t)
  const stream = app.push.stream
  let view: SocketView | undefined
  const notices: string[] = []
  const subscriber: Subscriber = { get viewer () { return view?.viewer ?? null }, deliver: () => {}, notify: (data) => { notices.push(data) }, fail: () => {} }
  view = new SocketView(subscriber, stream)
  stream.add(subscriber)
  t.teardown(() => { view?.close(); stream.remove(subscriber) })
  return { stream, view, notices }
}

t.test('a granted view follows its user in the stream\'s index; a revoked one leaves it', async (t) => {
  const { stream, view, notices } = await setUp(t)
  view.grant(42, 'token-a', Date.now() + 60_000)
  t.same(stream.viewers(), [42])
  stream.typing(7, 1, [42])
  t.equal(notices.length, 1, 'a private room\'s typing notice reaches it')
  view.revoke()
  t.same([view.viewer, view.token, stream.viewers()], [null, null, []])
  stream.typing(7, 1, [42])
  t.equal(notices.length, 1, 'not after the revocation')
})

t.test('the view ends by itself when its token expires', async (t) => {
  const { stream, view } = await setUp(t)
  view.grant(42, 'token-a', Date.now() + 150)
  t.equal(view.lapse(), false, 'not lapsed yet')
  await waitFor(async () => view.viewer === null, 5000, 'the view to end')
  t.same(stream.viewers(), [], 'out of the index')

  view.grant(43, 'token-b', Date.now() - 1)
  t.equal(view.viewer, null, 'a token already expired gives no view')
})

t.test('lapse ends an expired view at once, even before its timer runs', async (t) => {
  const { view } = await setUp(t)
  const expiry = Date.now() + 60_000
  view.grant(42, 'token-a', expiry)
  t.equal(view.lapse(expiry - 1), false)
  t.equal(view.lapse(expiry), true, 'ended at the expiry')
  t.equal(view.viewer, null)
  t.equal(view.lapse(expiry + 1), false, 'nothing more to end')
})

t.test('the same token again keeps its expiry; a new token brings its own', async (t) => {
  const { view } = await setUp(t)
  const first = Date.now() + 60_000
  view.grant(42, 'token-a', first)
  view.grant(42, 'token-a', first + 60_000)
  t.equal(view.lapse(first), true, 'the first grant of a token sets its expiry')
  view.grant(42, 'token-b', first + 60_000)
  t.equal(view.lapse(first), false, 'a new token: its own expiry')
})
