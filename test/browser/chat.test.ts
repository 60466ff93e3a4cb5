import t from 'tap'
import pg from 'pg'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Page } from 'playwright-core'
import { waitFor } from '../helper'
import { buildClient, launchBrowser, openPage, screenshot, seriousViolations, signIn, startSystem, tokenFor } from './helper'

const PASSWORD = 'correct horse battery'
// Valid as a nickname (no spaces) and a classic injection if it were ever inserted as HTML.
const XSS = '<img/src=x/onerror=alert(1)>'
const BACKLOG = 130

const messageItem = (page: Page, text: string) => page.locator('#messages li.message', { hasText: text })
const exactly = (page: Page, text: string) => page.locator('#messages li.message', { has: page.locator('.body', { hasText: new RegExp(`^${text}$`) }) })
const roomButton = (page: Page, name: string) => page.locator('#sidebar button[data-room]', { has: page.locator('.room-name', { hasText: name }) })
const badge = (page: Page, name: string) => roomButton(page, name).locator('.badge')
const waitLive = (page: Page) => page.waitForSelector('#connection[data-state="open"]')
const send = async (page: Page, text: string): Promise<void> => {
  await page.fill('#post-input', text)
  await page.press('#post-input', 'Enter')
}
// Where an element is on screen, to tell whether the list jumped.
const topOf = (page: Page, id: string) => page.evaluate((id) => document.querySelector(`#messages li[data-id="${id}"]`)!.getBoundingClientRect().top, id)

// A local page for link previews (the worker may fetch it: LINK_PREVIEW_ALLOW_PRIVATE=true).
async function startLocalSite (t: { teardown: (fn: () => unknown) => void }): Promise<string> {
  const site = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8')
    res.end('<!doctype html><html><head><title>The Local Page</title><meta name="description" content="Previewed by the worker."></head><body>hi</body></html>')
  })
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => site.close(resolve)))
  return `http://127.0.0.1:${(site.address() as AddressInfo).port}/page`
}

t.test('three people, rooms, history and search in real browsers', async (t) => {
  buildClient()
  const siteUrl = await startLocalSite(t)
  const system = await startSystem(t, { LINK_PREVIEW_ALLOW_PRIVATE: true })
  const { origin } = system
  const api = async (token: string, method: string, path: string, body?: unknown): Promise<Response> => fetch(`${origin}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', prefer: 'wait=5' }, body: body === undefined ? undefined : JSON.stringify(body),
  })

  // Bob has a long history in general, written before any page reads it: five messages a
  // minute apart every two hours, over three days, so there are pages, days and groups.
  const register = async (nickname: string): Promise<number> => {
    const res = await fetch(`${origin}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nickname, password: PASSWORD }) })
    return ((await res.json()) as { id: number }).id
  }
  const bobId = await register('bob')
  const db = new pg.Client({ connectionString: system.env.DATABASE_URL as string })
  await db.connect()
  await db.query(`INSERT INTO messages (source, html, user_id, room_id, created_at, updated_at)
    SELECT s, s, $1, 1, t, t FROM (SELECT n, 'backlog ' || n || CASE WHEN n = 7 THEN ' about the zebrafish' ELSE '' END AS s,
      date_trunc('day', now()) - interval '3 days' + (n / 5) * interval '150 minutes' + (n % 5) * interval '1 minute' AS t
      FROM generate_series(1, $2::int) AS n) AS backlog`, [bobId, BACKLOG])
  await db.end()

  const browser = await launchBrowser(t)
  const { page: a } = await openPage(t, browser, `${origin}/`)
  await a.waitForSelector('#signin:not([hidden])')
  t.same(await seriousViolations(a), [], 'axe: no serious or critical violation on the sign-in page')

  const { page: b } = await openPage(t, browser, `${origin}/`)
  const { page: c } = await openPage(t, browser, `${origin}/`)
  await signIn(a, 'alice', PASSWORD)
  await signIn(b, 'bob', PASSWORD)
  await signIn(c, XSS, PASSWORD)
  await Promise.all([waitLive(a), waitLive(b), waitLive(c)]).catch(async (err) => {
    for (const p of [a, b, c]) t.comment(await p.evaluate(() => `${document.getElementById('signin-error')?.textContent} | ${document.getElementById('connection')?.textContent} | ${document.getElementById('chat')?.hidden}`))
    throw err
  })
  await b.evaluate(() => { (window as unknown as { neverReloaded: boolean }).neverReloaded = true })
  const [aliceToken, carolToken] = await Promise.all([tokenFor(origin, 'alice', PASSWORD), tokenFor(origin, XSS, PASSWORD)])

  t.test('scrolling up loads older pages without jumping, with days and groups', async (t) => {
    await messageItem(a, `backlog ${BACKLOG}`).waitFor()
    for (let pages = 0; await a.getAttribute('#messages', 'data-has-older') === 'true'; pages++) {
      const first = await a.evaluate(() => {
        const list = document.getElementById('messages')!
        list.scrollTop = 0
        return (list.querySelector('li.message') as HTMLElement).dataset.id!
      })
      const at = await topOf(a, first)
      await a.waitForFunction((id) => document.querySelector('#messages li.message')?.getAttribute('data-id') !== id, first)
      const after = await topOf(a, first)
      t.ok(Math.abs(after - at) <= 2, `page ${pages + 1}: what was on screen stays put (${at} → ${after})`)
      if (pages > 5) throw new Error('too many pages')
    }
    await exactly(a, 'backlog 1').waitFor()
    t.equal(await a.locator('#messages li.message').count(), BACKLOG, 'the whole history, once each')
    t.ok(await a.locator('#messages li.day').count() >= 3, 'a separator for each day')
    t.ok(await a.locator('#messages li.message.grouped').count() >= BACKLOG / 2, 'messages a minute apart share one name and time')
    t.equal(await exactly(a, 'backlog 5').locator('.author').count(), 1, 'the first of a group shows its author')
    t.equal(await exactly(a, 'backlog 6').locator('.author').count(), 0, 'the next ones do not')
  })

  t.test('new messages while reading older ones: a button jumps down', async (t) => {
    await b.fill('#post-input', 'fresh from bob')
    await b.press('#post-input', 'Shift+Enter')
    await b.type('#post-input', 'on **two** lines')
    await b.press('#post-input', 'Enter')
    await a.waitForSelector('#new-messages:not([hidden])')
    t.ok(await messageItem(a, 'fresh from bob').locator('.body br').count() === 1, 'a line break is kept')
    t.match(await a.textContent('#announcer'), /bob: fresh from bob/, 'read out to screen readers (a polite live region)')
    await a.click('#new-messages')
    await a.waitForSelector('#new-messages', { state: 'hidden' })
    await t.resolves(messageItem(a, 'fresh from bob').waitFor(), 'and the new message is in view')
    t.ok(await messageItem(a, 'fresh from bob').isVisible())
  })

  let secretId = 0
  t.test('a private room: created, someone added, unseen by the outsider', async (t) => {
    await a.click('#new-room')
    await a.fill('#room-name-input', 'secret plans')
    await a.fill('#room-topic-input', 'what we launch next')
    await a.check('#room-private')
    await a.press('#room-topic-input', 'Enter')
    await a.waitForSelector('#room-name:has-text("secret plans")')
    t.equal(await a.textContent('#room-topic'), 'what we launch next', 'the header shows name and topic')
    secretId = Number(await roomButton(a, 'secret plans').getAttribute('data-room'))
    await a.click('#add-people')
    await a.selectOption('#add-user', { label: 'bob' })
    await a.click('#add-dialog button[type=submit]')
    await a.waitForSelector('#add-dialog', { state: 'hidden' })
    await send(a, 'the launch code is tulip')
    await messageItem(a, 'launch code').waitFor()

    await badge(b, 'secret plans').waitFor()
    t.equal(await badge(b, 'secret plans').getAttribute('data-unread'), '1', 'bob sees it with an unread badge')
    await b.waitForFunction(() => document.title.startsWith('(1) '))
    t.equal(await b.title(), '(1) general · Flack', 'and the count in the tab title')

    // The outsider: not in the sidebar, not in search, not by id.
    await c.fill('#search-input', 'tulip')
    await c.press('#search-input', 'Enter')
    await c.waitForSelector('#search-results:not([hidden])')
    t.equal(await c.locator('#search-list button.result').count(), 0, 'search finds nothing for the outsider')
    await c.click('#search-close')
    t.equal(await roomButton(c, 'secret plans').count(), 0, 'nor does the sidebar show it')
    t.equal(await c.locator('#messages', { hasText: 'tulip' }).count(), 0)
    t.equal((await api(carolToken, 'GET', `/api/rooms/${secretId}`)).status, 404)
  })

  t.test('reading clears the badge; typing and replies reach the other member', async (t) => {
    // Alt+↓ goes to the next room in the sidebar, from the keyboard alone.
    await roomButton(a, 'general').click()
    await a.waitForSelector('#room-name:has-text("general")')
    await a.focus('#post-input')
    await a.keyboard.press('Alt+ArrowDown')
    await a.waitForSelector('#room-name:has-text("secret plans")')
    await roomButton(b, 'secret plans').click()
    await messageItem(b, 'launch code').waitFor()
    await b.waitForFunction(() => document.title === 'secret plans · Flack')
    t.equal(await badge(b, 'secret plans').count(), 0, 'read: no badge, no count in the title')
    await b.fill('#post-input', 'I am writing a long')
    await a.waitForSelector('#typing:has-text("bob is typing")')
    t.pass('alice sees bob typing')
    await b.press('#post-input', 'Enter')
    await messageItem(a, 'I am writing a long').waitFor()
    await a.waitForFunction(() => !/bob is typing/.test(document.getElementById('typing')!.textContent ?? ''))
    t.pass('the reply arrives and ends the typing notice')

    // Alice edits her last message from the keyboard (↑ in the empty box, then Enter); bob sees the mark.
    await a.focus('#post-input')
    await a.press('#post-input', 'ArrowUp')
    await a.fill('#messages textarea.edit-input', 'the launch code is *daffodil*')
    await a.press('#messages textarea.edit-input', 'Enter')
    const edited = messageItem(b, 'launch code')
    await edited.locator('em', { hasText: 'daffodil' }).waitFor()
    t.equal(await edited.locator('.edited').textContent(), '(edited)', 'marked as edited')
    t.equal(await messageItem(b, 'launch code').count(), 1, 'replaced, not added')
  })

  t.test('a direct message, seen by its two people only', async (t) => {
    await c.click(`#users li[data-user-id="${bobId}"] button[data-direct]`)
    await c.waitForSelector('#room-name:has-text("bob")')
    await send(c, 'hi bob, just between us `<img src=x onerror=window.pwned=2>` <b onclick="window.pwned=3">bold</b> <script>window.pwned=1</script>')
    await messageItem(c, 'just between us').waitFor()
    await badge(b, XSS).waitFor()
    t.equal(await roomButton(b, XSS).locator('.room-name').textContent(), XSS, 'named after the other person, as text')
    t.equal(await b.locator('#sidebar img').count(), 0, 'nothing was injected')
    t.equal(await roomButton(a, XSS).count(), 0, 'alice does not see it')
    await roomButton(b, XSS).click()
    const hostile = messageItem(b, 'just between us')
    await hostile.waitFor()
    t.equal(await hostile.locator('code').textContent(), '<img src=x onerror=window.pwned=2>', 'markup in code shows as text')
    t.equal(await b.locator('#messages img, #messages script').count(), 0, 'no element was injected')
    await hostile.locator('b').click()
    t.equal(await b.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined, 'nothing ran')
  })

  t.test('a public room: listed to join, joined, left', async (t) => {
    t.equal((await api(aliceToken, 'POST', '/api/rooms', { name: 'random', topic: 'anything goes' })).status, 201)
    const listed = b.locator('#other-list button[data-room]', { hasText: 'random' })
    await listed.click()
    await b.waitForSelector('#room-name:has-text("random")')
    await b.click('#join-room')
    await b.locator('#room-list button[data-room]', { hasText: 'random' }).waitFor()
    t.ok(await b.isHidden('#join-room'), 'joined: it moves to the rooms list')
    await b.click('#leave-room')
    await b.waitForSelector('#room-name:has-text("general")')
    await listed.waitFor()
    t.pass('left: back to general, and the room back under "More rooms"')
  })

  t.test('a link gets its preview, live', async (t) => {
    await roomButton(a, 'general').click()
    await send(a, `Look at [the local page](${siteUrl})`)
    await roomButton(b, 'general').click()
    const posted = messageItem(b, 'Look at')
    await posted.locator('blockquote', { hasText: 'The Local Page' }).waitFor()
    t.equal(await posted.locator('.body a').first().getAttribute('href'), siteUrl, 'the link is rendered, and its preview arrives')

    // Block Markdown as the server renders it: a list, code, a quote, struck text.
    await send(a, 'Blocks:\n\n- one\n- two\n\n```\nlet x = 1\n```\n\n> quoted ~~gone~~')
    const blocks = messageItem(b, 'Blocks:')
    await blocks.waitFor()
    t.equal(await blocks.locator('.body ul > li').count(), 2, 'a list')
    t.equal((await blocks.locator('.body pre code').textContent())?.trim(), 'let x = 1', 'a code block')
    t.equal(await blocks.locator('.body blockquote del').textContent(), 'gone', 'a quote with struck text')
  })

  t.test('search opens the message in its room with its context', async (t) => {
    await b.fill('#search-input', 'zebrafish')
    await b.press('#search-input', 'Enter')
    await b.waitForSelector('#search-list button.result')
    t.equal(await b.locator('#search-list mark').first().textContent(), 'zebrafish', 'the match is marked')
    t.same(await seriousViolations(b), [], 'axe: no serious or critical violation on the search results')
    await b.click('#search-list button.result')
    await b.waitForSelector('#messages li.message.highlight')
    t.match(await b.textContent('#messages li.message.highlight'), /backlog 7 about the zebrafish/, 'the message, highlighted')
    t.ok(await b.locator('#messages li.message.highlight').isVisible(), 'in view')
    t.equal(await exactly(b, 'backlog 6').count(), 1, 'with the one before it')
    t.equal(await exactly(b, 'backlog 8').count(), 1, 'and after it')
    t.equal(await b.textContent('#room-name'), '# general')
    t.same(await seriousViolations(b), [], 'axe: no serious or critical violation in a room')
    // The window stops before the newest message: a button goes there.
    await b.click('#new-messages:has-text("newest")')
    await messageItem(b, 'fresh from bob').waitFor()
    await b.waitForSelector('#new-messages', { state: 'hidden' })
  })

  t.test('after the socket is cut, nothing is missed in any room', async (t) => {
    await roomButton(b, 'general').click()
    await system.stopPush()
    await b.waitForSelector('#connection[data-state="waiting"]')
    t.equal((await api(aliceToken, 'POST', '/api/messages', { source: 'missed in general' })).status, 201)
    t.equal((await api(aliceToken, 'POST', `/api/rooms/${secretId}/messages`, { source: 'missed in secret' })).status, 201)
    t.equal((await api(carolToken, 'POST', `/api/rooms/${await roomButton(b, XSS).getAttribute('data-room')}/messages`, { source: 'missed in direct' })).status, 201)
    await system.startPush()
    await waitLive(b)
    await messageItem(b, 'missed in general').waitFor()
    await badge(b, 'secret plans').waitFor()
    await badge(b, XSS).waitFor()
    await b.waitForFunction(() => /^\(\d+\) /.test(document.title))
    await screenshot(b, 'chat-desktop', 'desktop')
    await roomButton(b, 'secret plans').click()
    await messageItem(b, 'missed in secret').waitFor()
    await roomButton(b, XSS).click()
    await messageItem(b, 'missed in direct').waitFor()
    t.equal(await messageItem(b, 'missed in').count(), 1, 'each room has its missed message, once')
    t.ok(await b.evaluate(() => (window as unknown as { neverReloaded?: boolean }).neverReloaded), 'without reloading the page')
    await roomButton(b, 'general').click()
    await messageItem(b, 'missed in general').waitFor()
  })

  t.test('after events were pruned, a reset reloads through REST', async (t) => {
    await system.stopPush()
    await b.waitForSelector('#connection[data-state="waiting"]')
    t.equal((await api(aliceToken, 'POST', '/api/messages', { source: 'posted while the history was pruned' })).status, 201)
    // Pruned once the api has seen it (it keeps read rooms in memory, fed by these events).
    await waitFor(async () => JSON.stringify(await (await api(aliceToken, 'GET', '/api/rooms/1/messages?limit=1')).json()).includes('pruned'))
    const db = new pg.Client({ connectionString: system.env.DATABASE_URL as string })
    await db.connect()
    await db.query('DELETE FROM events')
    await db.end()
    await system.startPush()
    await waitLive(b)
    await messageItem(b, 'posted while the history was pruned').waitFor({ timeout: 8000 })
    t.pass('the message posted meanwhile shows')
    t.equal(await messageItem(b, 'missed in general').count(), 1, 'nothing lost or doubled')
    t.ok(await b.evaluate(() => (window as unknown as { neverReloaded?: boolean }).neverReloaded), 'still without reloading')
  })

  t.test('pictures of the page', async (t) => {
    await roomButton(a, 'general').click()
    await messageItem(a, 'missed in general').waitFor()
    await b.setViewportSize({ width: 390, height: 760 })
    await screenshot(b, 'chat-phone', 'phone')
    await b.click('#rooms-toggle')
    await b.waitForSelector('#sidebar.open')
    await screenshot(b, 'chat-phone-rooms', 'phone-rooms')
    await b.keyboard.press('Escape')
    await b.waitForSelector('#sidebar.open', { state: 'detached' })
    await b.setViewportSize({ width: 1100, height: 720 })
    t.pass('desktop and phone (390 px) in test-output/')
  })

  t.test('signing out shows as offline to the others', async (t) => {
    await c.click('#signout')
    await c.waitForSelector('#signin:not([hidden])')
    await b.locator(`#users li.offline[data-user-id]`, { has: b.locator('.nickname', { hasText: XSS }) }).waitFor()
    t.pass('bob sees carol go offline')
  })

  t.test('deleting a message asks first, and the other person sees it go', async (t) => {
    // From the keyboard: the message's Delete button, Enter, a dialog that Escape cancels.
    const item = messageItem(a, 'missed in general')
    await item.locator('button[data-delete]').focus()
    await a.keyboard.press('Enter')
    await a.waitForSelector('#confirm-dialog[open]')
    await a.keyboard.press('Escape')
    await a.waitForSelector('#confirm-dialog:not([open])', { state: 'attached' })
    t.equal(await item.count(), 1, 'cancel keeps it')
    t.equal(await a.evaluate(() => document.activeElement?.getAttribute('data-delete') !== null), true, 'and focus goes back to its button')
    await a.keyboard.press('Enter')
    await a.waitForSelector('#confirm-dialog[open]')
    await a.keyboard.press('Tab')
    t.equal(await a.evaluate(() => document.activeElement?.textContent), 'Delete', 'Tab reaches the Delete button')
    await a.keyboard.press('Enter')
    // Alice's page drops it once the server confirmed; Bob's, from the pushed tombstone.
    const state = async (): Promise<string> => JSON.stringify(await Promise.all([a, b].map(async (p) => p.evaluate(() => ({
      banner: document.getElementById('banner')?.hidden === true ? '' : document.getElementById('banner')?.textContent,
      connection: document.getElementById('connection')?.dataset.state,
      dialogOpen: (document.getElementById('confirm-dialog') as HTMLDialogElement).open,
    })))))
    await item.waitFor({ state: 'detached' }).catch(async (err) => { t.comment(`pages: ${await state()}`); throw err })
    await messageItem(b, 'missed in general').waitFor({ state: 'detached' }).catch(async (err) => { t.comment(`pages: ${await state()}`); throw err })
    t.pass('bob sees it go')
  })

  t.test('the owner renames a room and changes its topic; a member sees it live and has no Edit button', async (t) => {
    const created = await api(aliceToken, 'POST', '/api/rooms', { name: 'standup', topic: 'daily notes' })
    const roomId = ((await created.json()) as { id: number }).id
    const join = await fetch(`${origin}/api/rooms/${roomId}/members/${bobId}`, { method: 'PUT', headers: { authorization: `Bearer ${await tokenFor(origin, 'bob', PASSWORD)}` } })
    t.ok(join.ok, 'bob joins')
    await roomButton(b, 'standup').locator('xpath=ancestor::ul[@id="room-list"]').waitFor()
    await roomButton(b, 'standup').click()
    await b.waitForSelector('#room-name:has-text("standup")')
    t.ok(await b.isHidden('#edit-room'), 'a member has no Edit button')
    await roomButton(a, 'standup').click()
    await a.waitForSelector('#room-name:has-text("standup")')
    await a.click('#edit-room')
    await a.waitForSelector('#edit-dialog[open]')
    t.equal(await a.inputValue('#edit-name-input'), 'standup', 'the dialog starts from the room as it is')
    t.equal(await a.inputValue('#edit-topic-input'), 'daily notes')
    t.same(await seriousViolations(a), [], 'axe: no serious or critical violation with the edit dialog open')
    await a.fill('#edit-name-input', 'daily standup')
    await a.fill('#edit-topic-input', 'what we did, what is next')
    await a.press('#edit-topic-input', 'Enter')
    await a.waitForSelector('#room-name:has-text("daily standup")')
    t.equal(await a.textContent('#room-topic'), 'what we did, what is next', 'the owner\'s header changes')
    t.notOk(await a.evaluate(() => (document.getElementById('edit-dialog') as HTMLDialogElement).open), 'and the dialog closes')
    await b.waitForSelector('#room-name:has-text("daily standup")')
    t.equal(await b.textContent('#room-topic'), 'what we did, what is next', 'the member sees it without a reload')
    t.equal(await roomButton(b, 'daily standup').count(), 1, 'in the sidebar too')

    // Another public room's name is refused in words, and the room stays as it was.
    await a.click('#edit-room')
    await a.fill('#edit-name-input', 'random')
    await a.press('#edit-name-input', 'Enter')
    await a.waitForFunction(() => (document.getElementById('edit-error')?.textContent ?? '') !== '')
    t.match(await a.textContent('#edit-error'), /already has this name/)
    await a.keyboard.press('Escape')
    t.match(await a.textContent('#room-name'), /daily standup/)
    await roomButton(a, 'general').click()
    await roomButton(b, 'general').click()
  })

  t.test('members: listed to everyone in the room, removed by the owner only; the removed one is shown out', async (t) => {
    const created = await api(aliceToken, 'POST', '/api/rooms', { name: 'crew', topic: '', private: true })
    const roomId = ((await created.json()) as { id: number }).id
    const added = await fetch(`${origin}/api/rooms/${roomId}/members/${bobId}`, { method: 'PUT', headers: { authorization: `Bearer ${aliceToken}` } })
    t.ok(added.ok, 'alice adds bob')
    const members = (page: Page) => page.locator('#members-list li .nickname')
    await roomButton(b, 'crew').click()
    await b.waitForSelector('#room-name:has-text("crew")')
    await b.click('#members-room')
    await b.waitForSelector('#members-dialog[open]')
    t.same((await members(b).allTextContents()).sort(), ['alice', 'bob'], 'bob sees both members')
    t.equal(await b.locator('#members-list button[data-remove]').count(), 0, 'and, not the owner, no Remove button')
    await b.keyboard.press('Escape')

    await roomButton(a, 'crew').click()
    await a.waitForSelector('#room-name:has-text("crew")')
    await a.click('#members-room')
    await a.waitForSelector('#members-dialog[open]')
    t.equal(await a.locator('#members-list button[data-remove]').count(), 1, 'the owner can remove the other member, not herself')
    t.same(await seriousViolations(a), [], 'axe: no serious or critical violation with the members dialog open')
    await a.click('#members-list button[aria-label="Remove bob from the room"]')
    await a.locator('#members-list li', { hasText: 'bob' }).waitFor({ state: 'detached' })
    t.same(await members(a).allTextContents(), ['alice'], 'bob is gone from the list')
    await a.keyboard.press('Escape')

    await b.waitForSelector('#room-name:has-text("general")')
    t.equal(await b.textContent('#banner'), 'You are no longer a member of that room.', 'bob, who had it open, is taken to general and told why')
    t.equal(await roomButton(b, 'crew').count(), 0, 'and the room leaves his sidebar')
    t.equal((await fetch(`${origin}/api/rooms/${roomId}/messages`, { headers: { authorization: `Bearer ${await tokenFor(origin, 'bob', PASSWORD)}` } })).status, 404, 'its history is closed to him')
    await roomButton(a, 'general').click()
  })
})
