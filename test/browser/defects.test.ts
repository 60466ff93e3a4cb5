import t from 'tap'
import pg from 'pg'
import type { Page } from 'playwright-core'
import { buildClient, launchBrowser, openPage, signIn, startSystem } from './helper'

const PASSWORD = 'correct horse battery'
// Not the default 4000: the page must take the limit from /api/client-config.
const LIMIT = 600

const messageItem = (page: Page, text: string) => page.locator('#messages li.message', { hasText: text })
const waitLive = (page: Page) => page.waitForSelector('#connection[data-state="open"]')

// The last message is inside the list's visible box (not under the banner or past the bottom).
async function lastMessageVisible (page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const list = document.getElementById('messages')!
    const items = list.querySelectorAll('li.message')
    const last = items[items.length - 1]
    if (last === undefined) return false
    const box = list.getBoundingClientRect()
    const item = last.getBoundingClientRect()
    return item.bottom <= box.bottom + 1 && item.top >= box.top - 1
  })
}

const errorShown = (page: Page) => page.waitForFunction(() => (document.getElementById('signin-error')?.textContent ?? '') !== '')

// The defects of issue 11, each as its rule, against the real services; each in a subtest of its own.
t.test('the page keeps its rules: banners, loading once, limits, sign-in wording', async (t) => {
  buildClient()
  const system = await startSystem(t, { MESSAGE_MAX_LENGTH: LIMIT })
  const browser = await launchBrowser(t)
  // Enough messages to scroll, written straight into the database before any page reads them
  // (the api keeps read rooms in memory, fed by events these inserts do not make).
  const register = async (nickname: string): Promise<number> => {
    const res = await fetch(`${system.origin}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nickname, password: PASSWORD }) })
    return ((await res.json()) as { id: number }).id
  }
  const [emil] = await Promise.all([register('emil'), register('dora')])
  const db = new pg.Client({ connectionString: system.env.DATABASE_URL as string })
  await db.connect()
  await db.query("INSERT INTO messages (source, html, user_id, room_id) SELECT 'line ' || n, 'line ' || n, $1, 1 FROM generate_series(1, 30) AS n", [emil])
  await db.end()

  t.test('a wrong password does not tell whether the nickname exists', async (t) => {
    const { page } = await openPage(t, browser, `${system.origin}/`)
    await signIn(page, 'dora', 'not the password')
    await errorShown(page)
    const said = await page.textContent('#signin-error')
    t.notMatch(said, /dora/, 'the error does not name the nickname')
    t.notMatch(said, /Wrong password for/, 'nor says it exists')
  })

  // The server's rule: a zero-width space is refused on the page; 20 emoji, 40 UTF-16 units, are one valid nickname.
  t.test('the nickname rule is the server\'s', async (t) => {
    const { page } = await openPage(t, browser, `${system.origin}/`)
    let registrations = 0
    page.on('request', (request) => { if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/users') registrations++ })
    await signIn(page, 'zero\u200bwidth', PASSWORD)
    await errorShown(page)
    t.match(await page.textContent('#signin-error'), /visible characters/, 'refused in the page\'s words')
    t.equal(registrations, 0, 'before anything is sent')
    await signIn(page, '🦊'.repeat(20), PASSWORD)
    await page.waitForSelector('#chat:not([hidden])', { timeout: 5000 })
    t.equal(await page.textContent('#me'), '🦊'.repeat(20), 'a nickname the server takes is taken by the page, whole')
  })

  const { page: b } = await openPage(t, browser, `${system.origin}/`)
  await signIn(b, 'emil', PASSWORD)
  await waitLive(b)

  t.test('a page load fetches each list once', async (t) => {
    const loads = new Map<string, number>()
    b.on('request', (request) => {
      const path = new URL(request.url()).pathname
      if (request.method() === 'GET' && /^\/api\/(users|messages|rooms\/\d+\/messages)$/.test(path)) loads.set(path, (loads.get(path) ?? 0) + 1)
    })
    await b.reload()
    await waitLive(b)
    await messageItem(b, 'line 30').waitFor()
    // Whatever else the page asks for a moment later would show here too.
    await b.waitForFunction(() => document.querySelectorAll('#users li').length >= 2)
    t.ok(loads.size >= 2, 'users and messages loaded')
    t.same([...loads.values()].filter((n) => n > 1), [], `each list loaded once: ${JSON.stringify(Object.fromEntries(loads))}`)
  })

  t.test('a message over the limit is not cut: a counter says so and nothing is sent', async (t) => {
    await b.fill('#post-input', 'x'.repeat(LIMIT + 1))
    await b.press('#post-input', 'Enter')
    t.equal((await b.inputValue('#post-input')).length, LIMIT + 1, 'the text is kept whole')
    t.ok(await b.isVisible('#post-count'), 'a counter shows')
    t.match(await b.textContent('#post-count').catch(() => ''), new RegExp(`${LIMIT}`), 'with the server\'s limit')
    t.equal(await messageItem(b, 'xxxxxxxx').count(), 0, 'nothing was posted')
    await b.fill('#post-input', '')
  })

  t.test('a server-side refusal reaches the banner in words, not validator text', async (t) => {
    await b.fill('#post-input', `${'>'.repeat(101)} deep`)
    await b.press('#post-input', 'Enter')
    await b.waitForSelector('#banner:not([hidden])')
    const refusal = await b.textContent('#banner')
    t.notMatch(refusal, /Invalid request|body\//, `said plainly: ${refusal}`)
    await b.fill('#post-input', '')
  })

  t.test('a connection banner hides no message and goes once the socket is live', async (t) => {
    // A post that works clears the last banner, so the next one changes the layout.
    await b.fill('#post-input', 'line 31')
    await b.press('#post-input', 'Enter')
    await messageItem(b, 'line 31').waitFor()
    await b.waitForSelector('#banner', { state: 'hidden' })
    await b.evaluate(() => { const list = document.getElementById('messages')!; list.scrollTop = list.scrollHeight })
    await system.stopPush()
    await b.waitForSelector('#connection[data-state="waiting"]')
    await b.context().setOffline(true)
    await b.fill('#post-input', 'while offline')
    await b.press('#post-input', 'Enter')
    await b.waitForSelector('#banner:not([hidden]):has-text("cannot be reached")')
    // As the user sees it: after the next rendering update, which delivers the list's resize to the page.
    await b.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))))
    t.ok(await lastMessageVisible(b), 'the banner does not hide the last message')
    await b.context().setOffline(false)
    await system.startPush()
    await waitLive(b)
    t.ok(await b.waitForSelector('#banner', { state: 'hidden', timeout: 3000 }).then(() => true, () => false), 'the banner went')
  })

  // A socket post whose acknowledgement comes too late is sent again through REST: one message, not two.
  t.test('a post whose acknowledgement is late is stored once', async (t) => {
    const db = new pg.Client({ connectionString: system.env.DATABASE_URL as string })
    await db.connect()
    t.teardown(() => db.end())
    await waitLive(b)
    // Inserts wait on the lock: the socket's post is not acknowledged within the page's 8 s, and the page falls back to REST.
    await db.query('BEGIN')
    await db.query('LOCK TABLE tasks IN EXCLUSIVE MODE')
    await b.fill('#post-input', 'acknowledged late')
    await b.press('#post-input', 'Enter')
    await new Promise((resolve) => setTimeout(resolve, 9000))
    await db.query('COMMIT')
    await messageItem(b, 'acknowledged late').first().waitFor()
    await b.waitForFunction(() => (document.getElementById('post-input') as HTMLTextAreaElement).value === '')
    const { rows } = await db.query("SELECT count(*)::int AS n FROM messages WHERE source = 'acknowledged late'")
    t.equal(rows[0].n, 1, 'stored once')
    t.equal(await messageItem(b, 'acknowledged late').count(), 1, 'shown once')
  })
})
