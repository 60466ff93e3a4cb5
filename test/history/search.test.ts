import t from 'tap'
import fc from 'fast-check'
import type pg from 'pg'
import type { FastifyInstance } from 'fastify'
import { buildTestApi, createUser, testPool, type TestUser } from '../helper'
import { addMember, createRoom } from '../rooms/helper'
import { CANDIDATES } from '../../lib/queries/search'

interface Hit { message: { id: number, room_id: number, source: string, deleted: boolean }, snippet: string }

async function post (pool: pg.Pool, roomId: number, userId: number, source: string): Promise<number> {
  const { rows } = await pool.query('INSERT INTO messages (source, html, user_id, room_id) VALUES ($1, $1, $2, $3) RETURNING id', [source, userId, roomId])
  return rows[0].id
}

async function search (app: FastifyInstance, user: TestUser | null, query: string): Promise<{ statusCode: number, body: string, json: () => { results: Hit[], error?: string } }> {
  return app.inject({ url: `/api/search?${query}`, headers: user?.auth ?? {} })
}
const ids = (hits: Hit[]): number[] => hits.map((hit) => hit.message.id)

t.test('search: ranked, deleted excluded, limits, only rooms the caller may read', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const [alice, bob, eve] = [await createUser(app), await createUser(app), await createUser(app)]
  const pub = await createRoom(app, alice, 'open')
  const priv = await createRoom(app, alice, 'closed', true)
  await addMember(app, alice, priv.id, bob.id)
  const once = await post(pool, pub.id, alice.id, 'the deploy is tomorrow, let us talk about coffee')
  const twice = await post(pool, pub.id, alice.id, 'deploy deploy: deploy again')
  const general = await post(pool, 1, bob.id, 'general talk about the deploy')
  const secret = await post(pool, priv.id, alice.id, 'secret deploy of project zanzibar')
  const gone = await post(pool, pub.id, alice.id, 'deploy deploy deploy deploy, deleted')
  await pool.query('UPDATE messages SET deleted = true WHERE id = $1', [gone])

  const forAlice = (await search(app, alice, 'q=deploy')).json().results
  t.equal(forAlice[0].message.id, twice, 'the best match first')
  t.same(ids(forAlice).sort(), [once, twice, general, secret].sort(), 'deleted excluded, her private room included')
  t.same(ids((await search(app, eve, 'q=deploy')).json().results).sort(), [once, twice, general].sort(), 'an outsider: public rooms only')
  t.same(ids((await search(app, null, 'q=deploy')).json().results).sort(), [once, twice, general].sort(), 'anonymous: public rooms only')
  t.same(ids((await search(app, bob, `q=deploy&room_id=${priv.id}`)).json().results), [secret], 'one room')
  t.same(ids((await search(app, alice, 'q=deploy -coffee&limit=50')).json().results).includes(once), false, 'web-search syntax: -word')
  t.same(ids((await search(app, alice, 'q=%22talk about coffee%22')).json().results), [once], 'a phrase')
  t.equal((await search(app, alice, 'q=deploy&limit=2')).json().results.length, 2)
  t.match((await search(app, alice, 'q=deploy&limit=1')).json().results[0], { message: { id: twice, room_id: pub.id, deleted: false }, snippet: /<mark>deploy<\/mark>/ })
  t.same((await search(app, alice, 'q=!!!')).json().results, [], 'no words: nothing')

  for (const query of ['', 'q=', 'q=%20%20', `q=${'x'.repeat(201)}`, 'q=a&limit=0', 'q=a&limit=51', 'q=a&room_id=0', 'q=a&room_id=x', 'q=a&other=1', 'q=a%00b']) {
    const res = await search(app, alice, query)
    t.equal(res.statusCode, 400, query)
    t.type(res.json().error, 'string')
  }
  t.equal((await search(app, alice, `q=${'é'.repeat(200)}`)).statusCode, 200, '200 characters, however many bytes')
})

t.test('an outsider\'s search never returns, counts or hints at a private message', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const [alice, eve] = [await createUser(app), await createUser(app)]
  const priv = await createRoom(app, alice, 'hidden', true)
  const direct = (await app.inject({ method: 'POST', url: `/api/users/${alice.id}/direct`, headers: alice.auth })).json()
  const pub = await createRoom(app, alice, 'visible')
  const words = ['zanzibar', 'merger', 'salary', 'deploy', 'launch']
  for (let i = 0; i < 60; i++) {
    const word = words[i % words.length]
    await post(pool, [priv.id, direct.id][i % 2], alice.id, `private ${word} ${i} <b>${word}</b>`)
    if (i % 3 === 0) await post(pool, pub.id, alice.id, `public ${word} ${i}`)
  }
  const missing = await search(app, eve, 'q=zanzibar&room_id=2147483647')
  t.equal(missing.statusCode, 404)
  for (const room of [priv.id, direct.id]) {
    for (const user of [eve, null]) {
      const res = await search(app, user, `q=zanzibar&room_id=${room}`)
      t.equal(res.statusCode, 404)
      t.same(res.json(), missing.json(), 'the same answer as a missing room')
    }
  }
  for (const word of [...words, 'private', 'zanzibar OR merger', '"private salary"', 'b']) {
    for (const user of [eve, null]) {
      const { results } = (await search(app, user, `q=${encodeURIComponent(word)}&limit=50`)).json()
      t.ok(results.every((hit) => hit.message.room_id === pub.id), `${word}: public messages only`)
      t.notOk(results.some((hit) => /private/.test(hit.snippet + hit.message.source)), 'no snippet or source from the private rooms')
      const asAlice = (await search(app, alice, `q=${encodeURIComponent(word)}&limit=50`)).json().results
      t.same(results, asAlice.filter((hit) => hit.message.room_id === pub.id), 'exactly what a member sees of the public room')
    }
  }
})

t.test('a word in more than CANDIDATES messages is ranked among its newest CANDIDATES matches', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const alice = await createUser(app)
  const room = await createRoom(app, alice, 'busy')
  // The oldest 100 would rank best (the word three times), but lie outside the newest CANDIDATES.
  const { rows } = await pool.query<{ id: number }>(`INSERT INTO messages (source, html, user_id, room_id)
    SELECT CASE WHEN i <= 100 THEN 'alpha alpha alpha ' || i ELSE 'alpha beta ' || i END, 'x', $1, $2 FROM generate_series(1, $3::int + 100) AS i RETURNING id`,
  [alice.id, room.id, CANDIDATES])
  const newest = rows.map((row) => row.id).slice(-CANDIDATES)
  const { results } = (await search(app, alice, 'q=alpha&limit=50')).json()
  t.equal(results.length, 50)
  t.ok(results.every((hit) => hit.message.id >= newest[0]), 'only the newest CANDIDATES matches are ranked')
  t.notOk(results.some((hit) => hit.message.source.startsWith('alpha alpha')), 'the better-ranked older ones are not')
  const { results: inWindow } = (await search(app, alice, `q=alpha&room_id=${room.id}&limit=50`)).json()
  t.same(ids(inWindow), ids(results), 'the same within the room')
})

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" }
const unescape = (text: string): string => text.replace(/&amp;|&lt;|&gt;|&quot;|&#39;/g, (entity) => ENTITIES[entity])

t.test('snippets are escaped text with only <mark> as markup, over generated sources full of HTML and Markdown', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const alice = await createUser(app)
  const room = await createRoom(app, alice, 'html')
  const piece = fc.constantFrom('<script>alert(1)</script>', '<b>', '</b>', '&', '&amp;', '&lt;', '"', "'", '<a href="http://x.example/?a=1&b=2">',
    '**bold**', '_em_', '`code`', '<mark>', '</mark>', '<img src=x onerror=alert(1)>', '\n', ' ', 'plain', 'words', '<!-- c -->', ']]>', '\\<')
  // The searched word alone, or inside a tag, an attribute, an entity-like run or Markdown.
  const placement = fc.constantFrom((w: string) => ` ${w} `, (w: string) => `<b class="${w}">`, (w: string) => `<${w}>`, (w: string) => `<script>${w}</script>`,
    (w: string) => `**${w}**`, (w: string) => `&${w};`, (w: string) => `'${w}'`, (w: string) => `"${w}"`)
  let n = 0
  await fc.assert(fc.asyncProperty(fc.array(piece, { maxLength: 20 }), placement, fc.array(piece, { maxLength: 20 }), async (head, place, tail) => {
    const word = `needle${++n}x`
    const source = head.join('') + place(word) + tail.join('')
    const id = await post(pool, room.id, alice.id, source)
    const res = await search(app, alice, `q=${word}&room_id=${room.id}`)
    t.equal(res.statusCode, 200)
    const { results } = res.json()
    t.same(ids(results), [id], `${JSON.stringify(source)}: found`)
    const snippet = results[0]?.snippet ?? ''
    t.ok(snippet.includes(`<mark>${word}</mark>`), 'the match is marked')
    const text = snippet.replaceAll('<mark>', '').replaceAll('</mark>', '')
    t.notMatch(text, /[<>"']/, 'no markup but <mark>')
    t.notMatch(text.replace(/&amp;|&lt;|&gt;|&quot;|&#39;/g, ''), /&/, 'every & begins an entity')
    t.ok(source.includes(unescape(text)), 'unescaped, the snippet is the source\'s own text')
  }), { numRuns: 150, seed: 1013 })
})
