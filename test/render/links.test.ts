import t from 'tap'
import fc from 'fast-check'
import { Parser } from 'htmlparser2'
import { previewHtml, renderMessage } from '../../services/worker/render'

interface Anchor { href: string | undefined, rel: string | undefined, text: string }

function anchors (html: string): Anchor[] {
  const found: Anchor[] = []
  let open: Anchor | null = null
  const parser = new Parser({
    onopentag (name, attribs) { if (name === 'a') found.push(open = { href: attribs.href, rel: attribs.rel, text: '' }) },
    ontext (text) { if (open !== null) open.text += text },
    onclosetag (name) { if (name === 'a') open = null },
  }, { decodeEntities: true })
  parser.write(html)
  parser.end()
  return found
}

const word = fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/)
const domain = fc.tuple(word, fc.constantFrom('com', 'org', 'co.uk', 'io')).map(([name, tld]) => `${name}.${tld}`)
const address = fc.tuple(word, fc.constantFrom('', '.x', '+tag'), domain).map(([user, extra, host]) => `${user}${extra}@${host}`)
// Fragments of chat text: links of every spelling, addresses, Markdown around them.
const fragment = fc.oneof(
  word,
  domain,
  domain.map((d) => `http://${d}/path?q=1`),
  domain.map((d) => `https://www.${d}`),
  domain.map((d) => `[site](https://${d})`),
  domain.map((d) => `<https://${d}>`),
  address.map((a) => ({ bare: a })),
  address.map((a) => `[write](mailto:${a})`),
  address.map((a) => `<${a}>`),
  fc.constantFrom('*', '**', '_', '`', '> ', '- ', '\n', '\n\n', ',', '.', '(', ')'),
)

t.test('every link carries rel="nofollow"; a bare e-mail address is never a link, an explicit one is', async (t) => {
  fc.assert(fc.property(fc.array(fragment, { minLength: 1, maxLength: 12 }), (parts) => {
    const source = parts.map((p) => (typeof p === 'string' ? p : p.bare)).join(' ')
    const { html } = renderMessage(source)
    const links = anchors(html)
    for (const a of links) {
      if (a.rel !== 'nofollow') throw new Error(`link without rel=nofollow in ${html}`)
      if (a.href?.startsWith('mailto:') === true && !source.includes(`mailto:${a.href.slice(7)}`) && !source.includes(`<${a.href.slice(7)}>`)) {
        throw new Error(`mailto link invented from text: ${JSON.stringify(source)} -> ${html}`)
      }
    }
    for (const p of parts) {
      if (typeof p === 'string') continue
      // A bare address is text: no link points at it and no link's text is it.
      const explicit = source.includes(`mailto:${p.bare}`) || source.includes(`<${p.bare}>`)
      if (!explicit && links.some((a) => a.href === `mailto:${p.bare}` || a.text === p.bare)) {
        throw new Error(`bare address ${p.bare} linked: ${JSON.stringify(source)} -> ${html}`)
      }
    }
  }), { numRuns: 500, seed: 9 })
})

t.test('bare e-mail addresses stay text, as in Flack', async (t) => {
  t.equal(renderMessage('write to foo@bar.com now').html, 'write to foo@bar.com now')
  t.equal(renderMessage('user+tag@sub.example.co.uk, thanks').html, 'user+tag@sub.example.co.uk, thanks')
  t.same(renderMessage('foo@bar.com').links, [])
  t.equal(renderMessage('[me](mailto:foo@bar.com)').html, '<a href="mailto:foo@bar.com" rel="nofollow">me</a>')
  t.equal(renderMessage('<foo@bar.com>').html, '<a href="mailto:foo@bar.com" rel="nofollow">foo@bar.com</a>')
})

t.test('every preview link carries rel="nofollow", whatever the page says', async (t) => {
  const text = fc.option(fc.string({ maxLength: 40 }), { nil: null })
  fc.assert(fc.property(domain, fc.string({ maxLength: 20 }), text, text, (host, path, title, description) => {
    const url = `https://${host}/${encodeURIComponent(path)}`
    const links = anchors(previewHtml({ url, title, description }))
    if (links.length !== 1 || links[0].rel !== 'nofollow' || links[0].href !== url) throw new Error(`bad preview link ${JSON.stringify(links)}`)
  }), { numRuns: 300, seed: 4 })
})
