import t from 'tap'
import { connect, publish, startTestPush } from '../helper'
t.test('dbg', async (t) => {
  const { app, url } = await startTestPush(t)
  await app.pg.query(`INSERT INTO events (class, model) SELECT 'Message', jsonb_build_object('id', i) FROM generate_series(1, 1200) i`)
  const c = await connect(t, url, { since: 0 })
  const p = await publish(app, 'Message', {x: 1})
  const frames = await c.drain(2000)
  console.log(frames.length, frames.slice(0,2), frames.slice(-2), p, app.push.stream.lastSeq)
})
