import t from 'tap'
import { eventFrame } from '../../lib/stream/frames'
import { RecentFrames } from '../../lib/stream/recent'

const frames = (from: number, to: number, size = 10) =>
  Array.from({ length: to - from + 1 }, (_, i) => eventFrame(String(from + i), 'Message', `"${'x'.repeat(size)}"`))
const seqs = (held: ReturnType<RecentFrames['after']>): number[] | null => held === null ? null : held.map((f) => f.seq)

t.test('holds every event after its starting point, up to a count and a byte limit', async (t) => {
  const recent = new RecentFrames(4, 1 << 20)
  t.equal(recent.after(0), null, 'nothing before the stream has a starting point')
  recent.startAt(10)
  t.same(seqs(recent.after(10)), [], 'up to date')
  t.equal(recent.after(9), null, 'before the starting point')
  t.equal(recent.after(11), null, 'beyond the newest')
  recent.add(frames(11, 13))
  recent.add(frames(15, 16))
  t.equal(recent.after(10), null, 'the oldest (11) dropped past four frames: 10 is no longer enough')
  t.same(seqs(recent.after(11)), [12, 13, 15, 16])
  t.same(seqs(recent.after(14)), [15, 16], 'a seq gap (a rolled-back transaction) is fine')
  t.same(seqs(recent.after(16)), [])

  for (let seq = 17; seq < 1000; seq++) recent.add(frames(seq, seq))
  t.same(seqs(recent.after(995)), [996, 997, 998, 999], 'still right after many compactions')
  t.equal(recent.after(994), null)

  const size = frames(1, 1)[0].data.length
  const small = new RecentFrames(100, 2 * size + 1)
  small.startAt(0)
  small.add(frames(1, 3))
  t.same(seqs(small.after(1)), [2, 3], 'the oldest dropped past the byte limit')
  t.equal(small.after(0), null)
})
