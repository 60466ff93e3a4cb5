import t from 'tap'
import { createServer, type Server } from 'node:http'
import pg from 'pg'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Page } from 'playwright-core'
import { buildApi } from '../../services/api/app'
import { buildPush } from '../../services/push/app'
import { startWorker } from '../../services/worker/server'
import { testEnv } from '../helper'
import { buildClient, launchBrowser, openPage, screenshot, signIn } from './helper'
import { freePort } from '../support/net'

const PASSWORD = 'correct horse battery'
// Valid as a nickname (no spaces) and a classic injection if it were ever inserted as HTML.
const XSS_NICKNAME = '<img/src=x/onerror=alert(1)>'

// A local page for link previews (the worker may fetch it: LINK_PREVIEW_ALLOW_PRIVATE=true).
async function startLocalSite (t: Parameters<typeof testEnv>[0]): Promise<string> {
  const site: Server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8')
    res.end('<!doctype html><html><head><title>The Local Page</title>' +
      '<meta name="description" content="Served by the browser test &amp; previewed by the worker."></head><body>hi</body></html>')
  })
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => site.close(resolve)))
  return `http://127.0.0.1:${(site.address() as AddressInfo).port}/page`
}

const messageItem = (page: Page, text: string) => page.locator('#messages li.message', { hasText: text })
const userItem = (page: Page, nickname: string) => page.locator('#users li', { has: page.locator('.nickname', { hasText: nickname }) })
const waitLive = (page: Page) => page.waitForSelector('#connection[data-state="open"]')

t.test('two people chat live in real browsers', async (t) => {
  buildClient()
  const siteUrl = await startLocalSite(t)

  // All three services, in-process, on this test's database. The page's origin must be
  // known to the push service before it listens, hence a port picked up front.
  const apiPort = await freePort()
  const pageOrigin = `http://127.0.0.1:${apiPort}`
  const env = await testEnv(t, { LINK_PREVIEW_ALLOW_PRIVATE: true, PUSH_ALLOWED_ORIGINS: pageOrigin, HOST: '127.0.0.1' })

  let push: FastifyInstance | null = null
  let pushPort = 0
  const startPushInstance = async (): Promise<void> => {
    const instance = await buildPush({ env })
    await instance.listen({ port: pushPort, host: '127.0.0.1' })
    pushPort = (instance.server.address() as AddressInfo).port
    push = instance
  }
  t.teardown(() => push?.close())
  await startPushInstance()

  const worker = await startWorker(env)
  t.teardown(() => worker.close())

  const api = await buildApi({ env: { ...env, PUSH_PUBLIC_URL: `ws://127.0.0.1:${pushPort}/ws` } })
  t.teardown(() => api.close())
  // Posts that came through REST rather than the socket.
  let restPosts = 0
  api.addHook('onRequest', async (request) => {
    if (request.method === 'POST' && request.url === '/api/messages') restPosts++
  })
  await api.listen({ port: apiPort, host: '127.0.0.1' })

  const browser = await launchBrowser(t)
  const { page: a } = await openPage(t, browser, `${pageOrigin}/`)
  const { page: b } = await openPage(t, browser, `${pageOrigin}/`)

  // Both register through the one form.
  await signIn(a, 'alice', PASSWORD)
  await signIn(b, 'bob', PASSWORD)
  await Promise.all([waitLive(a), waitLive(b)])
  await userItem(b, 'alice').and(b.locator('.online')).waitFor()
  await userItem(a, 'bob').and(a.locator('.online')).waitFor()
  t.pass('both registered and see each other online')
  // Set once: still there at the end means B never reloaded.
  await b.evaluate(() => { (window as unknown as { neverReloaded: boolean }).neverReloaded = true })

  // A posts Markdown with a link; B sees it rendered, then its preview arrives.
  await a.fill('#post-input', `Look at **this**: [the local page](${siteUrl})`)
  await a.press('#post-input', 'Enter')
  const posted = messageItem(b, 'Look at')
  await posted.locator('strong', { hasText: 'this' }).waitFor()
  t.equal(await posted.locator('.author').textContent(), 'alice', 'with its author')
  t.equal(await posted.locator('.body a').first().getAttribute('href'), siteUrl, 'the link is rendered')
  await posted.locator('blockquote', { hasText: 'The Local Page' }).waitFor()
  t.match(await posted.locator('blockquote').textContent(), /Served by the browser test & previewed by the worker\./, 'the preview arrives live')
  t.equal(await a.inputValue('#post-input'), '', 'the post box is cleared after sending')
  t.equal(restPosts, 0, 'the post went through the socket (acknowledged)')

  // A edits it (keyboard only: ↑ in the empty box, then Enter); B sees the edit.
  await a.focus('#post-input')
  await a.press('#post-input', 'ArrowUp')
  await a.waitForSelector('#messages textarea.edit-input')
  await a.fill('#messages textarea.edit-input', `Look at *that*: [the local page](${siteUrl})`)
  await a.press('#messages textarea.edit-input', 'Enter')
  const edited = messageItem(b, 'Look at that')
  await edited.locator('em', { hasText: 'that' }).waitFor()
  t.equal(await messageItem(b, 'Look at').count(), 1, 'the edit replaces the message, not a new one')
  await messageItem(a, 'Look at that').waitFor()

  // A reply, and the picture of a conversation for the README (docs/screenshot.png).
  await b.fill('#post-input', 'Nice, thanks **alice**! The preview showed up by itself.')
  await b.press('#post-input', 'Enter')
  await messageItem(a, 'Nice, thanks').waitFor()
  await a.setViewportSize({ width: 960, height: 540 })
  await screenshot(a, 'readme')
  await a.setViewportSize({ width: 1100, height: 720 })

  // Alice's signed-in socket also streams her private rooms; this page shows general only.
  const basicAuth = (nickname: string): string => `Basic ${Buffer.from(`${nickname}:${PASSWORD}`).toString('base64')}`
  const { token: bobToken } = await (await fetch(`${pageOrigin}/api/tokens`, { method: 'POST', headers: { authorization: basicAuth('bob') } })).json() as { token: string }
  const asBob = { authorization: `Bearer ${bobToken}`, 'content-type': 'application/json' }
  const side = await (await fetch(`${pageOrigin}/api/rooms`, { method: 'POST', headers: asBob, body: JSON.stringify({ name: 'side room', private: true }) })).json() as { id: number }
  const { users: everyone } = await (await fetch(`${pageOrigin}/api/users`, { headers: asBob })).json() as { users: Array<{ id: number, nickname: string }> }
  const aliceId = everyone.find((user) => user.nickname === 'alice')!.id
  t.equal((await fetch(`${pageOrigin}/api/rooms/${side.id}/members/${aliceId}`, { method: 'PUT', headers: { authorization: asBob.authorization } })).status, 204)
  const aside = await fetch(`${pageOrigin}/api/rooms/${side.id}/messages`, { method: 'POST', headers: { ...asBob, prefer: 'wait=5' }, body: JSON.stringify({ source: 'only in the side room' }) })
  t.equal(aside.status, 201, 'posted into the side room')
  await b.fill('#post-input', 'back in general')
  await b.press('#post-input', 'Enter')
  await messageItem(a, 'back in general').waitFor()
  t.equal(await messageItem(a, 'only in the side room').count(), 0, 'a message of another room stays out of general')

  // An XSS attempt, in a nickname and in a message, renders as inert text.
  const { page: x } = await openPage(t, browser, `${pageOrigin}/`)
  await signIn(x, XSS_NICKNAME, PASSWORD)
  await waitLive(x)
  await x.fill('#post-input', 'Harmless? `<img src=x onerror=window.pwned=2>` <b onclick="window.pwned=3">bold</b> <script>window.pwned=1</script><img src=x onerror="window.pwned=4">')
  await x.press('#post-input', 'Enter')
  const hostile = messageItem(b, 'Harmless?')
  await hostile.waitFor()
  t.equal(await hostile.locator('.author').textContent(), XSS_NICKNAME, 'the nickname shows as typed')
  t.equal(await hostile.locator('code').textContent(), '<img src=x onerror=window.pwned=2>', 'markup in code shows as text')
  t.equal(await b.locator('#messages img, #users img, #messages script').count(), 0, 'no element was injected')
  t.equal(await hostile.locator('b').getAttribute('onclick'), null, 'no event handler survives')
  await hostile.locator('b').click()
  t.equal(await b.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined, 'nothing ran')
  await userItem(b, XSS_NICKNAME).waitFor()

  await screenshot(a, 'chat-alice')
  await screenshot(b, 'chat-bob')

  // A signs out; B sees A go offline.
  await a.click('#signout')
  await a.waitForSelector('#signin:not([hidden])')
  await userItem(b, 'alice').and(b.locator('.offline')).waitFor()
  t.pass('B sees A go offline')

  // B's socket is cut (the push instance stops); messages posted meanwhile go through
  // REST from X's page, whose socket is down too. B resumes with ?since= and misses none.
  await push!.close()
  push = null
  await b.waitForSelector('#connection[data-state="waiting"]')
  for (const n of [1, 2, 3]) {
    await x.fill('#post-input', `while you were away ${n}`)
    await x.press('#post-input', 'Enter')
    await messageItem(x, `while you were away ${n}`).waitFor()
  }
  t.equal(await messageItem(b, 'while you were away').count(), 0, 'B is cut off')
  t.equal(restPosts, 3, 'with the socket down, posts fell back to REST')
  await screenshot(b, 'chat-bob-offline')
  await startPushInstance()
  await waitLive(b)
  for (const n of [1, 2, 3]) await messageItem(b, `while you were away ${n}`).waitFor()
  const texts = await b.locator('#messages li.message .body').allTextContents()
  t.same(texts.filter((s) => s.startsWith('while you were away')), ['while you were away 1', 'while you were away 2', 'while you were away 3'],
    'all missed messages, once each, in order')
  t.ok(await b.evaluate(() => (window as unknown as { neverReloaded?: boolean }).neverReloaded), 'without reloading')

  // And the live stream goes on after the reconnect.
  await b.fill('#post-input', 'back online')
  await b.press('#post-input', 'Enter')
  await messageItem(x, 'back online').waitFor()
  t.pass('posting works again after the reconnect')

  // Cut again, and this time the events B missed are pruned: the push service answers
  // its `since` with a reset, and B reloads through REST, still without a page reload.
  await push!.close()
  push = null
  await b.waitForSelector('#connection[data-state="waiting"]')
  await x.fill('#post-input', 'posted while the history was pruned')
  await x.press('#post-input', 'Enter')
  await messageItem(x, 'posted while the history was pruned').waitFor()
  const db = new pg.Client({ connectionString: env.DATABASE_URL as string })
  await db.connect()
  await db.query('DELETE FROM events')
  await db.end()
  await startPushInstance()
  await waitLive(b)
  await messageItem(b, 'posted while the history was pruned').waitFor()
  t.equal(await messageItem(b, 'while you were away').count(), 3, 'a reset reloads through REST; nothing lost or doubled')
  t.ok(await b.evaluate(() => (window as unknown as { neverReloaded?: boolean }).neverReloaded), 'still without reloading the page')

  await screenshot(b, 'chat-bob-reconnected')
  await b.setViewportSize({ width: 390, height: 720 })
  await screenshot(b, 'chat-bob-phone')
  await b.click('#people-toggle')
  await b.locator('#people.open').waitFor()
  await screenshot(b, 'chat-bob-phone-people')
})
