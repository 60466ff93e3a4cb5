import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApi } from '../helper'
import { launchBrowser } from '../browser/helper'

// Sources a page of this api may load from: itself, and data: images. Nothing from another host.
const LOCAL_SOURCES = new Set(["'self'", "'none'", 'data:'])

function assertLocalPolicy (t: Test, policy: string | undefined, what: string): void {
  t.ok(policy, `${what}: has a Content-Security-Policy`)
  const directives = new Map((policy ?? '').split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...sources]) => [name, sources]))
  t.same(directives.get('default-src'), ["'none'"], `${what}: default-src 'none'`)
  for (const [name, sources] of directives) {
    for (const source of sources) t.ok(LOCAL_SOURCES.has(source), `${what}: ${name} ${source} names no other host and no inline code`)
  }
}

// A URL the page refers to must stay on this server: a path, never scheme:// or //host.
const isLocal = (ref: string): boolean => !/^[a-z][a-z0-9+.-]*:/i.test(ref) && !ref.startsWith('//')

async function fetchAsset (t: Test, app: FastifyInstance, path: string): Promise<string> {
  const res = await app.inject(path)
  t.equal(res.statusCode, 200, `${path} is served`)
  t.equal(res.headers['x-content-type-options'], 'nosniff', `${path}: nosniff`)
  assertLocalPolicy(t, res.headers['content-security-policy'] as string | undefined, path)
  return res.body
}

t.test('/docs and everything it loads come from this server, under a strict CSP', async (t) => {
  const app = await buildTestApi(t)
  const html = await fetchAsset(t, app, '/docs')
  t.match(html, /<title>Flack API reference<\/title>/)
  const refs = [...html.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((m) => m[1])
  t.ok(refs.length >= 4, `${refs.length} assets`)
  t.notMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, 'no inline script')
  t.notMatch(html, /\sstyle=|<style/, 'no inline style')
  for (const ref of refs) {
    t.ok(isLocal(ref), `${ref} is on this server`)
    const body = await fetchAsset(t, app, new URL(ref, 'http://api.test/docs').pathname)
    if (ref.endsWith('.css')) {
      const urls = [...body.matchAll(/url\(\s*['"]?([^'")]+)/g), ...body.matchAll(/@import\s+['"]([^'"]+)/g)].map((m) => m[1])
      for (const url of urls) t.ok(url.startsWith('data:') || isLocal(url), `${ref}: ${url.slice(0, 40)} is inline or local`)
    }
    if (ref.endsWith('swagger-initializer.js')) {
      t.match(body, /resolveUrl\('\.\/json'\)/, 'the UI reads the document from /docs/json')
      t.match(body, /validatorUrl: null/, 'no online validator badge')
      t.notMatch(body.replace(/\/\/ .*$/gm, ''), /https?:\/\//, 'the initializer names no URL')
    }
  }
  const doc = await app.inject('/docs/json')
  t.equal(doc.statusCode, 200)
  t.match(doc.json(), { openapi: /^3\./ })
  t.equal((await app.inject('/docs/static/../../package.json')).statusCode, 404, 'nothing outside the UI\'s folder')
})

// The real page in Chromium: every operation renders, and nothing is refused or fetched elsewhere.
t.test('the reference renders every operation in a browser, with no CSP violation and no outside request', async (t) => {
  const app = await buildTestApi(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const operations = Object.values((await app.inject('/docs/json')).json().paths as Record<string, object>)
    .reduce((n: number, methods) => n + Object.keys(methods).length, 0)

  const browser = await launchBrowser(t)
  const context = await browser.newContext()
  t.teardown(() => context.close())
  const requests: string[] = []
  const problems: string[] = []
  context.on('request', (request) => { requests.push(request.url()) })
  const page = await context.newPage()
  page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()) })
  page.on('pageerror', (err) => problems.push(err.message))
  await page.goto(`${origin}/docs`)
  await page.waitForFunction((n) => document.querySelectorAll('.opblock').length === n, operations, { timeout: 30_000 })
  t.equal(await page.locator('.opblock').count(), operations, `all ${operations} operations shown`)
  t.ok(await page.locator('.opblock-summary-operation-id, .opblock-summary-path').first().isVisible(), 'operations are visible')
  t.same(problems, [], 'no console error, no refused resource')
  const outside = requests.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:'))
  t.same(outside, [], `all ${requests.length} requests went to this server`)
})
