import t from 'tap'
import fc from 'fast-check'
import { ChatState, GROUP_SECONDS, humanError, layout, titleText, typingText } from '../../services/api/public/src/state'
import { signInProblem } from '../../services/api/public/src/rules'
import { isValidNickname, NICKNAME_PATTERN, type MessageJson, type RoomJson } from '../../lib/models'

// The page's state without a browser: the rules it keeps, over many generated inputs.
const SEED = 20261130
const RUNS = { seed: SEED, numRuns: 300 }
const ME = 1

function message (id: number, fields: Partial<MessageJson> = {}): MessageJson {
  return {
    id, created_at: 1_700_000_000 + id * 60, updated_at: 1_700_000_000 + id * 60, source: `m${id}`, html: `m${id}`,
    user_id: 2, room_id: 5, edited_at: null, deleted: false, _links: { self: '', user: '' }, ...fields,
  }
}

function room (fields: Partial<RoomJson> = {}): RoomJson {
  return {
    id: 5, name: 'five', topic: '', kind: 'private', created_at: 0, updated_at: 0, created_by: ME, member_count: 2,
    _links: { self: '', messages: '', members: '' }, member: true, role: 'member', last_read_id: 0, unread: 0, ...fields,
  }
}

const emptyPage = { messages: [], _links: {} }

t.test('pushed versions of messages, in any order, leave the newest of each and drop tombstones', async (t) => {
  // Versions: [id, updated_at offset, deleted]; each (id, offset) once, so "newest" is well defined.
  const versions = fc.uniqueArray(fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 20 }), fc.boolean()),
    { selector: ([id, at]) => `${id}/${at}`, maxLength: 40 })
  fc.assert(fc.property(versions, fc.infiniteStream(fc.nat()), (list, order) => {
    const state = new ChatState(ME)
    state.applyRoom(room())
    state.addPage(5, emptyPage, 'newest')
    const shuffled = [...list].map((v) => [order.next().value, v] as const).sort((a, b) => a[0] - b[0]).map(([, v]) => v)
    for (const [id, at, deleted] of shuffled) state.applyMessage(message(id, { updated_at: 1_800_000_000 + at, deleted, source: deleted ? '' : `v${at}` }))
    const newest = new Map<number, [number, boolean]>()
    for (const [id, at, deleted] of list) if ((newest.get(id)?.[0] ?? -1) < at) newest.set(id, [at, deleted])
    const expected = [...newest].filter(([, [, deleted]]) => !deleted).map(([id, [at]]) => `${id}:v${at}`).sort()
    const shown = state.sortedMessages(5).map((m) => `${m.id}:${m.source}`).sort()
    return JSON.stringify(shown) === JSON.stringify(expected)
  }), RUNS)
  t.pass(`${RUNS.numRuns} generated cases (seed ${SEED})`)
})

t.test('unread counts others\' messages after the marker, and the marker only moves forward', async (t) => {
  const authors = fc.array(fc.constantFrom(ME, 2, 3), { minLength: 0, maxLength: 30 })
  fc.assert(fc.property(authors, fc.nat({ max: 35 }), fc.array(fc.nat({ max: 35 }), { maxLength: 5 }), (list, marker, moves) => {
    const state = new ChatState(ME)
    state.applyRoom(room({ last_read_id: marker, unread: 0 }))
    state.addPage(5, { messages: list.map((user_id, i) => message(i + 1, { user_id })), _links: {} }, 'newest')
    let at = marker
    for (const move of moves) {
      state.markRead(5, move)
      at = Math.max(at, move)
    }
    const expected = list.filter((user, i) => user !== ME && i + 1 > at).length
    return state.unread(5) === expected && state.rooms.get(5)?.last_read_id === at && state.totalUnread() === expected
  }), RUNS)
  // A room whose history is not loaded counts as the server says.
  const state = new ChatState(ME)
  state.applyRoom(room({ unread: 7 }))
  t.equal(state.unread(5), 7)
  // A pushed Room frame carries no viewer fields: ours are kept.
  state.applyRoom({ ...room({ updated_at: 5, topic: 'new' }), member: undefined, role: undefined, last_read_id: undefined, unread: undefined })
  t.equal(state.rooms.get(5)?.topic, 'new')
  t.equal(state.unread(5), 7)
  // Removed from a private room: it is gone from the page.
  t.equal(state.applyMembership({ room_id: 5, user_id: ME, role: null, last_read_id: null }), 'removed')
  t.equal(state.rooms.has(5), false)
})

t.test('layout: a separator per day, grouping by author within minutes', async (t) => {
  const steps = fc.array(fc.tuple(fc.constantFrom(2, 3), fc.integer({ min: 0, max: 2 * GROUP_SECONDS }), fc.boolean()), { maxLength: 40 })
  const dayOf = (s: number): string => String(Math.floor(s / 3600)) // an "hour-long day" so new days come often
  fc.assert(fc.property(steps, (list) => {
    let at = 1_700_000_000
    const messages = list.map(([user_id, gap, jump], i) => {
      at += gap + (jump ? 3600 : 0)
      return message(i + 1, { user_id, created_at: at })
    })
    const entries = layout(messages, dayOf)
    const shown = entries.filter((e) => e.type === 'message')
    if (shown.length !== messages.length) return false
    let previous: MessageJson | undefined
    let day = ''
    for (const entry of entries) {
      if (entry.type === 'day') {
        if (dayOf(entry.time) === day) return false
        day = dayOf(entry.time)
        previous = undefined
        continue
      }
      if (dayOf(entry.message.created_at) !== day) return false
      const grouped = previous !== undefined && previous.user_id === entry.message.user_id && entry.message.created_at - previous.created_at <= GROUP_SECONDS
      if (entry.grouped !== grouped) return false
      previous = entry.message
    }
    return true
  }), RUNS)
  t.pass(`${RUNS.numRuns} generated cases (seed ${SEED})`)
})

t.test('the sign-in form accepts a nickname exactly when the server does', async (t) => {
  const nickname = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.array(fc.constantFrom('a', 'Z', '9', ' ', '\t', '\u00a0', '\u200b', '\u2028', '\u0000', '🦊', 'é', '-', '_'), { maxLength: 40 }).map((a) => a.join('')))
  fc.assert(fc.property(nickname, (name) => (signInProblem(name, 'long enough', NICKNAME_PATTERN) === '') === (name !== '' && isValidNickname(name))), { ...RUNS, numRuns: 1000 })
})

t.test('validator text reaches people as a sentence', async (t) => {
  const field = fc.constantFrom('source', 'nickname', 'password', 'name', 'topic')
  const rule = fc.constantFrom('must NOT have more than 4000 characters', 'must NOT have fewer than 1 characters', 'must match pattern "x"', 'must be string')
  fc.assert(fc.property(field, rule, fc.boolean(), (f, r, withBody) => {
    const said = humanError(`Invalid request: ${withBody ? 'body/' : ''}${f} ${r}`)
    return !/Invalid request|body\/|NOT/.test(said) && /^[A-Z]/.test(said) && said.endsWith('.')
  }), RUNS)
  t.equal(humanError('Room not found'), 'Room not found', 'other messages pass as they are')
})

t.test('tab title and typing line', async (t) => {
  t.equal(titleText(0, 'general'), 'general · Flack')
  t.equal(titleText(3, 'general'), '(3) general · Flack')
  t.equal(titleText(1000, null), '(999+) Flack')
  t.equal(typingText([]), '')
  t.equal(typingText(['ann']), 'ann is typing…')
  t.equal(typingText(['ann', 'bo']), 'ann and bo are typing…')
  const state = new ChatState(ME)
  state.applyUser({ id: 2, nickname: 'ann', created_at: 0, updated_at: 0, last_seen_at: 0, online: true, _links: { self: '', messages: '', tokens: '' } })
  state.startTyping(5, 2, 1000)
  state.startTyping(5, ME, 1000)
  t.same(state.typers(5, 2000), ['ann'], 'others only')
  t.same(state.typers(5, 1000 + 5000), [], 'and for a few seconds')
  state.startTyping(5, 2, 1000)
  state.addPage(5, emptyPage, 'newest')
  state.applyRoom(room())
  state.applyMessage(message(9, { user_id: 2 }))
  t.same(state.typers(5, 2000), [], 'a message from the typist ends it')
})
