import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { waitFor } from '../helper'
import { classifyAddress, isAllowedAddress } from '../../services/worker/address-policy'
import { PreviewRefused, checkPreviewUrl, createPreviewer, pageSummary, type PreviewLimits } from '../../services/worker/link-preview'
import { createPreviewAgent, fetchPage } from '../../services/worker/link-fetch'

// A real local web server; only LINK_PREVIEW_ALLOW_PRIVATE lets previews reach it.
let hits = 0
const server = createServer((req, res) => {
  hits++
  const url = new URL(req.url ?? '/', 'http://x')
  const port = (server.address() as AddressInfo).port
  const redirect = (to: string): void => { res.writeHead(302, { location: to }); res.end() }
  switch (url.pathname) {
    case '/page':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      return res.end('<html><head><title> A  &amp; B </title><meta name="description" content="Desc &lt;x&gt;"></head></html>')
    case '/og':
      res.writeHead(200, { 'content-type': 'application/xhtml+xml' })
      return res.end('<html><head><meta property="og:title" content="OG"><meta property="og:description" content="OG desc"></head></html>')
    case '/latin1':
      res.writeHead(200, { 'content-type': 'text/html; charset=iso-8859-1' })
      return res.end(Buffer.from('<title>caf\xe9</title>', 'latin1'))
    case '/plain':
      res.writeHead(200, { 'content-type': 'text/plain' })
      return res.end('<title>not html</title>')
    case '/big': {
      res.writeHead(200, { 'content-type': 'text/html' })
      const filler = 'x'.repeat(64 * 1024)
      let sent = 0
      const more = (): void => {
        while (sent < 64 && res.write(filler)) sent++
        if (sent >= 64) res.end('<title>too far</title>')
        else res.once('drain', more)
      }
      res.on('close', () => { bigClosedAfter = sent })
      return more()
    }
    case '/slow':
      return setTimeout(() => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<title>late</title>') }, 2000)
    case '/missing':
      res.writeHead(404, { 'content-type': 'text/html' })
      return res.end('<title>404</title>')
    case '/hop': {
      const n = Number(url.searchParams.get('n'))
      return n > 0 ? redirect(`/hop?n=${n - 1}`) : redirect('/page')
    }
    case '/to': return redirect(String(url.searchParams.get('url')).replace('PORT', String(port)))
  }
  res.writeHead(404)
  res.end()
})
let bigClosedAfter = -1

t.before(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)))
t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
const base = (): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const port = (): number => (server.address() as AddressInfo).port

// The error a promise rejects with (or null): refusals are checked by their class and reason.
async function caught (promise: Promise<unknown>): Promise<(Error & { code?: string, reason?: string }) | null> {
  try {
    await promise
    return null
  } catch (err) {
    return err as Error
  }
}
const isRefusal = (err: (Error & { code?: string }) | null): boolean => err instanceof PreviewRefused || err?.code === 'EREFUSED'

const open: PreviewLimits = { allowPrivate: true, timeoutMs: 1000, maxBytes: 16384, maxRedirects: 3 }
const closed: PreviewLimits = { ...open, allowPrivate: false }

t.test('address classes', async (t) => {
  const refused = ['0.0.0.0', '0.1.2.3', '169.254.169.254', '169.254.0.1', '224.0.0.1', '239.255.255.250', '255.255.255.255', '240.0.0.1',
    '::', 'fe80::1', 'febf::1', 'ff02::1', 'ff05::2', '::ffff:169.254.169.254', '::ffff:0.0.0.0', '::ffff:a9fe:a9fe', '64:ff9b::169.254.169.254',
    '::ffff:224.0.0.1', '::2', 'not-an-ip', '1.2.3']
  const privates = ['127.0.0.1', '127.255.0.9', '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.255', '192.168.0.1', '100.64.0.1',
    '::1', '0:0:0:0:0:0:0:1', 'fc00::1', 'fdff:ffff::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::127.0.0.1',
    '::ffff:0:127.0.0.1', '64:ff9b::7f00:1', '2002:7f00:1::1', '[::1]']
  const publics = ['8.8.8.8', '1.1.1.1', '172.32.0.1', '192.169.0.1', '2606:4700:4700::1111', '2a00:1450:4001::1', '::ffff:8.8.8.8']
  for (const a of refused) t.equal(classifyAddress(a), 'refused', a)
  for (const a of privates) {
    t.equal(classifyAddress(a), 'private', a)
    t.notOk(isAllowedAddress(a, false), `${a} refused by default`)
    t.ok(isAllowedAddress(a, true), `${a} admitted with LINK_PREVIEW_ALLOW_PRIVATE`)
  }
  for (const a of refused) t.notOk(isAllowedAddress(a, true), `${a} refused even with LINK_PREVIEW_ALLOW_PRIVATE`)
  for (const a of publics) t.equal(classifyAddress(a), 'public', a)
})

t.test('URL rules: http(s) only, no credentials', async (t) => {
  for (const url of ['file:///etc/passwd', 'ftp://example.com/', 'gopher://example.com/', 'javascript:alert(1)', 'data:text/html,x',
    'http://user:pass@example.com/', 'http://user@example.com/', 'not a url']) {
    let refused: unknown
    try { checkPreviewUrl(url) } catch (err) { refused = err }
    t.ok(refused instanceof PreviewRefused, url)
  }
  t.equal(checkPreviewUrl('https://example.com/x').toString(), 'https://example.com/x')
})

t.test('page summary', async (t) => {
  t.same(pageSummary('<title>\n T \n</title><meta name="DESCRIPTION" content="d">'), { title: 'T', description: 'd' })
  t.same(pageSummary('<p>no head</p>'), { title: null, description: null })
  t.same(pageSummary('<svg><title>inner</title></svg><title>outer</title>'), { title: 'inner', description: null })
})

t.test('with LINK_PREVIEW_ALLOW_PRIVATE=true the local server is previewed', async (t) => {
  const previewer = createPreviewer(open)
  t.teardown(() => previewer.close())
  t.same(await previewer.preview(`${base()}/page`), { url: `${base()}/page`, title: 'A & B', description: 'Desc <x>' })
  t.same(await previewer.preview(`${base()}/og`), { url: `${base()}/og`, title: 'OG', description: 'OG desc' })
  t.same(await previewer.preview(`${base()}/latin1`), { url: `${base()}/latin1`, title: 'café', description: null })
  t.same(await previewer.preview(`${base()}/plain`), { url: `${base()}/plain`, title: null, description: null }, 'only text/html is read')
  t.equal(await previewer.preview(`${base()}/missing`), null, 'an error page gives no preview')
  t.same(await previewer.preview(`${base()}/hop?n=2`), { url: `${base()}/hop?n=2`, title: 'A & B', description: 'Desc <x>' }, 'redirects followed')
  t.same(await previewer.preview(`http://localhost:${port()}/page`), { url: `http://localhost:${port()}/page`, title: 'A & B', description: 'Desc <x>' })
})

t.test('limits: redirects capped, time limit, byte limit', async (t) => {
  const agent = createPreviewAgent(open)
  t.teardown(() => agent.close())
  t.equal((await caught(fetchPage(agent, `${base()}/hop?n=3`, open)))?.reason, 'too many redirects')
  const started = Date.now()
  t.ok(await caught(fetchPage(agent, `${base()}/slow`, { ...open, timeoutMs: 300 })), 'timed out')
  t.ok(Date.now() - started < 1800, 'gave up at the time limit, before the page came at 2 s')
  const big = await fetchPage(agent, `${base()}/big`, { ...open, maxBytes: 4096 })
  t.equal(big.html?.length, 4096, 'read stops at the byte limit')
  await waitFor(async () => bigClosedAfter >= 0, 3000, 'the big page\'s response to close')
  t.ok(bigClosedAfter < 64, `the rest was never downloaded (closed after ${bigClosedAfter} of 64 chunks)`)
})

t.test('redirects are re-checked at every hop', async (t) => {
  const agent = createPreviewAgent(open)
  t.teardown(() => agent.close())
  // Even with private addresses admitted, these stay refused.
  for (const to of ['http://169.254.169.254/latest/meta-data/', 'http://0.0.0.0:PORT/page', 'http://[::ffff:169.254.169.254]/',
    'http://[fe80::1]/', 'http://224.0.0.1/', 'file:///etc/passwd', 'ftp://127.0.0.1/', 'http://user:pw@127.0.0.1:PORT/page']) {
    const before = hits
    const err = await caught(fetchPage(agent, `${base()}/to?url=${encodeURIComponent(to)}`, open))
    t.ok(isRefusal(err), `${to}: ${err?.message}`)
    t.equal(hits, before + 1, `only the redirecting page was fetched (${to})`)
  }
})

t.test('with LINK_PREVIEW_ALLOW_PRIVATE off (the default) every refusal holds', async (t) => {
  const agent = createPreviewAgent(closed)
  const previewer = createPreviewer(closed)
  t.teardown(async () => { await agent.close(); await previewer.close() })
  const p = port()
  const before = hits
  const urls = [
    `http://127.0.0.1:${p}/page`, `http://localhost:${p}/page`, `http://[::1]:${p}/page`, `http://[::ffff:127.0.0.1]:${p}/page`,
    `http://[::ffff:7f00:1]:${p}/page`, `http://0x7f000001:${p}/page`, `http://2130706433:${p}/page`, `http://0177.0.0.1:${p}/page`,
    `http://127.1:${p}/page`, `http://0.0.0.0:${p}/page`, `http://10.0.0.1:${p}/`, `http://172.16.0.1:${p}/`, `http://192.168.1.1:${p}/`,
    'http://169.254.169.254/latest/meta-data/', 'http://[fe80::1]/', 'http://[fc00::1]/', 'http://[fd00::1]/', 'http://224.0.0.1/',
    'http://[ff02::1]/', 'http://[::]/', `http://127.0.0.1.nip.invalid:${p}/`, `https://127.0.0.1:${p}/page`,
    `${base()}/to?url=${encodeURIComponent('http://127.0.0.1:PORT/page')}`,
  ]
  for (const url of urls) {
    const err = await caught(fetchPage(agent, url, { ...closed, timeoutMs: 2000 }))
    t.ok(err !== null && (isRefusal(err) || (err.code === 'ENOTFOUND' && url.includes('.invalid'))), `${url}: ${err?.message}`)
    t.equal(await previewer.preview(url), null, `no preview: ${url}`)
  }
  t.equal(hits, before, 'the local server never received a request')
})
