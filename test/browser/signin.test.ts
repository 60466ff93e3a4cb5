import t from 'tap'
import { buildApi } from '../../services/api/app'
import { testEnv } from '../helper'
import { NICKNAME_PATTERN } from '../../lib/models'
import { buildClient, launchBrowser, openPage, screenshot, signIn } from './helper'

// The page against the api alone: sign-in, registration, session, sign-out, assets.
t.test('the page registers, signs in, survives a reload and signs out', async (t) => {
  buildClient()
  const api = await buildApi({ env: await testEnv(t, { PUSH_PUBLIC_URL: '/ws' }) })
  t.teardown(() => api.close())
  await api.listen({ port: 0, host: '127.0.0.1' })
  const { port } = api.server.address() as { port: number }
  const url = `http://127.0.0.1:${port}/`

  const page0 = await fetch(url)
  t.equal(page0.status, 200, 'the page is served at /')
  t.match(page0.headers.get('content-security-policy') ?? '', /script-src 'self'/, 'with a strict CSP')
  t.equal((await fetch(`${url}dist/app.js`)).status, 200, 'the bundle is served')
  t.equal((await fetch(`${url}src/main.ts`)).status, 404, 'the source is not')
  t.same(await (await fetch(`${url}api/client-config`)).json(), { push_url: '/ws', push_port: 5001, message_max_length: 4000, nickname_pattern: NICKNAME_PATTERN },
    'where the socket is, and the server\'s own limits')
  t.equal((await fetch(`${url}api/nothing-here`)).status, 404, 'unknown API paths still 404 as JSON')

  const browser = await launchBrowser(t)
  const { page } = await openPage(t, browser, url)
  await page.waitForSelector('#signin-form')

  await signIn(page, 'carol', 'short')
  await page.waitForSelector('#signin-error:has-text("at least 8 characters")')

  await signIn(page, 'carol', 'correct horse')
  await page.waitForSelector('#chat:not([hidden])')
  t.equal(await page.textContent('#me'), 'carol', 'an unknown nickname registers and signs in')
  await page.waitForSelector('#users li.online:has-text("carol")')
  await page.waitForSelector('#stats:has-text("req/s")')
  t.match(await page.textContent('#stats'), /^\d+(\.\d)? req\/s$/, 'requests per second shown')
  await screenshot(page, 'signin-chat-empty')
  await page.emulateMedia({ colorScheme: 'dark' })
  await screenshot(page, 'signin-chat-dark')
  await page.emulateMedia({ colorScheme: 'light' })

  await page.reload()
  await page.waitForSelector('#chat:not([hidden])')
  t.equal(await page.textContent('#me'), 'carol', 'the session survives a reload')

  await page.click('#signout')
  await page.waitForSelector('#signin:not([hidden])')
  t.equal(await page.evaluate(() => localStorage.getItem('flack.token')), null, 'sign out forgets the token')

  await signIn(page, 'carol', 'wrong password')
  await page.waitForSelector('#signin-error:has-text("Wrong nickname or password")')
  t.pass('a wrong password says so, without naming the nickname')
  await screenshot(page, 'signin-wrong-password')

  // A revoked token anywhere sends the page back to the form.
  await signIn(page, 'carol', 'correct horse')
  await page.waitForSelector('#chat:not([hidden])')
  // Once the page has loaded its lists, so no request of it is in flight across the revocation.
  await page.waitForSelector('#room-list button[data-room]')
  const token = await page.evaluate(() => localStorage.getItem('flack.token'))
  const revoked = await fetch(`${url}api/tokens`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })
  t.equal(revoked.status, 204)
  await page.reload()
  await page.waitForSelector('#signin-error:has-text("session has ended")')
  t.pass('a revoked token returns to the sign-in form')
})
