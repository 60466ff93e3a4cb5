import t from 'tap'
import fc from 'fast-check'
import { Parser } from 'htmlparser2'
import { ALLOWED_TAGS, BLOCK_TAGS, MAX_SHOWN_DEPTH, renderMessage } from '../../services/worker/render'
import { validateMessageSource } from '../../lib/tasks'

const MAX_LENGTH = 4000
const SAFE_HREF = /^(?:https?:\/\/|mailto:)/i
const ATTRIBUTES: Record<string, string[]> = { a: ['href', 'title', 'rel'], abbr: ['title'], acronym: ['title'], ol: ['start'] }

// What the api lets through to the worker (the nesting and length limits).
function accepted (source: string): boolean {
  try {
    validateMessageSource(source, MAX_LENGTH)
    return true
  } catch {
    return false
  }
}

// Everything wrong with rendered output, read the way a browser's parser reads it: tags and
// attributes off the list, links that are not http(s)/mailto or lack rel=nofollow, markup
// that is not well formed (a tag left open or closed out of order would swallow the previews
// appended after it), containers nested deeper than shown.
function faults (html: string): string[] {
  const found: string[] = []
  const open: string[] = []
  let containers = 0
  let deepest = 0
  const parser = new Parser({
    onopentag (name, attribs) {
      if (!ALLOWED_TAGS.includes(name)) found.push(`tag <${name}>`)
      for (const [attr, value] of Object.entries(attribs)) {
        if (!(ATTRIBUTES[name] ?? []).includes(attr)) found.push(`attribute ${attr} on <${name}>`)
        if (attr === 'start' && !/^\d+$/.test(value)) found.push(`start ${value}`)
      }
      if (name === 'a') {
        if (attribs.href === undefined || !SAFE_HREF.test(attribs.href)) found.push(`link to ${attribs.href}`)
        if (attribs.rel !== 'nofollow') found.push('link without rel=nofollow')
      }
      if (name === 'blockquote' || name === 'ul' || name === 'ol') deepest = Math.max(deepest, ++containers)
      if (name !== 'br') open.push(name)
    },
    onclosetag (name, implied) {
      if (name === 'br') return
      if (implied) found.push(`<${name}> closed by the parser`)
      if (open.pop() !== name) found.push(`</${name}> out of order`)
      if (name === 'blockquote' || name === 'ul' || name === 'ol') containers--
    },
    oncomment () { found.push('comment') },
    onprocessinginstruction (name) { found.push(`instruction ${name}`) },
  }, { decodeEntities: true, recognizeCDATA: true })
  parser.write(html)
  parser.end()
  if (deepest > MAX_SHOWN_DEPTH) found.push(`containers ${deepest} deep`)
  return found
}

// Sources mixing every block construct, raw HTML (block tags among it), hostile links and
// reference definitions, emphasis, and runs of nesting prefixes up to past the api's limit.
const lineStart = fc.constantFrom('', '', '', '> ', '>', '- ', '* ', '+ ', '1. ', '3) ', '    ', '  ', '\t', '# ', '### ', '```', '~~~', '```js ',
  '- [ ] ', '- [x] ', '| ', '|---|---|', '---', '***', '===', '[1]: javascript:alert(1)', '[1]: http://ok.example "t"', '[2]: <//evil.example>', '> - ', '1. > ')
const inline = fc.constantFrom('word', 'two words', '*', '**', '_', '~~', '~', '`', '``', '|', '\\', '[x][1]', '[y][2]', '[z]', '[a](http://ok.example/a)',
  '[j](javascript:alert(1))', '[r](/relative)', '[d](data:text/html,x)', '![i](http://ok.example/i.png)', '<https://ok.example>', '<javascript:alert(1)>',
  'ok.example', 'http://ok.example/<b>', 'www.ok.example', 'me@ok.example', '<me@ok.example>', 'mailto:me@ok.example',
  '<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '<a href="javascript:alert(1)">', '<a href="http://ok.example">', '</a>',
  '<pre>', '</pre>', '<ul>', '<li>', '</li>', '</ul>', '<ol start="x">', '<blockquote>', '</blockquote>', '<p>', '</p>', '<del onclick=x>', '</del>',
  '<br>', '<div>', '</div>', '<!-- c -->', '<b>', '</b>', '<code>', '</code>', '&amp;', '&lt;script&gt;', '&#106;avascript:', '<', '>', '"', "'")
const run = fc.tuple(fc.constantFrom('> ', '- ', '  - ', '1. ', '>', '> - ', '*', '_', '~~', '**a ', '[', '`'), fc.integer({ min: 1, max: 130 }))
  .map(([unit, n]) => unit.repeat(n))
const line = fc.tuple(fc.array(lineStart, { maxLength: 3 }), fc.array(fc.oneof({ weight: 6, arbitrary: inline }, { weight: 1, arbitrary: run }), { maxLength: 8 }))
  .map(([starts, parts]) => starts.join('') + parts.join(' '))
const source = fc.array(fc.tuple(line, fc.constantFrom('\n', '\n', '\n\n', '\n   \n')), { minLength: 1, maxLength: 14 })
  .map((lines) => lines.map(([text, end]) => text + end).join('').slice(0, MAX_LENGTH))

t.test('rule: whatever the api accepts renders, without throwing, to allowed, well-formed markup whose every link is safe', async (t) => {
  let rendered = 0
  let slowest = 0
  const kinds = new Set<string>()
  fc.assert(fc.property(source, (text) => {
    if (text.trim() === '' || !accepted(text)) return
    const start = performance.now()
    const { html, links } = renderMessage(text)
    slowest = Math.max(slowest, performance.now() - start)
    rendered++
    for (const tag of BLOCK_TAGS) if (html.includes(`<${tag}`)) kinds.add(tag)
    const found = faults(html)
    if (found.length > 0) throw new Error(`${found.join(', ')}: ${JSON.stringify(text)} -> ${html}`)
    for (const link of links) {
      if (!/^https?:\/\//.test(link) || !html.includes(`href="${link.replace(/&/g, '&amp;')}"`)) throw new Error(`preview candidate ${link} not a link of ${html}`)
    }
  }), { numRuns: 400, seed: 13 })
  t.ok(rendered > 200, `${rendered} sources rendered`)
  t.same([...kinds].sort(), [...BLOCK_TAGS].sort(), 'every block tag was produced')
  // A generous bound: the worst seen is tens of milliseconds, the suite's load is shared.
  t.ok(slowest < 2000, `slowest render ${slowest.toFixed(1)} ms`)
})

t.test('rule: a source with no block syntax renders as one paragraph: inline tags only, a newline as <br>', async (t) => {
  const word = fc.constantFrom('hello', '*world*', '**b**', '`c`', '~~d~~', 'foo.com', '[x](http://ok.example)', '<b>', '</b>', '<pre>', '<ul>', '<li>', '<blockquote>', '<p>', '&', '<', '#1', '- x')
  fc.assert(fc.property(fc.array(fc.array(word, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 }), (lines) => {
    // Each line starts with a word, so no line opens a block.
    const text = lines.map((words) => 'w ' + words.join(' ')).join('\n')
    const { html } = renderMessage(text)
    for (const tag of BLOCK_TAGS) if (html.includes(`<${tag}`)) throw new Error(`<${tag}> in ${JSON.stringify(text)} -> ${html}`)
    if (html.split('<br>').length !== lines.length) throw new Error(`${lines.length} lines, not as many <br>: ${html}`)
    if (faults(html).length > 0) throw new Error(`${faults(html).join(', ')}: ${html}`)
  }), { numRuns: 400, seed: 7 })
})

t.test('the longest sources of every block kind render in bounded time', async (t) => {
  const shapes: Record<string, string> = {
    lines: 'a\n'.repeat(2000),
    paragraphs: 'a\n\n'.repeat(1333),
    headings: '# a\n'.repeat(1000),
    rules: '---\n'.repeat(1000),
    'wide table': '|a'.repeat(999) + '\n' + '|-'.repeat(999) + '\n|1',
    'tall table': '|a|b|\n|-|-|\n' + '|1|2|\n'.repeat(660),
    fences: '```\n'.repeat(1000),
    'flat list': '- a\n'.repeat(1000),
    'task list': '- [ ] a\n'.repeat(490),
    'nested lists': Array.from({ length: 60 }, (_, i) => ' '.repeat(i * 2) + '- a').join('\n'),
    'quotes and lists': '> - '.repeat(25) + 'a\n' + ('> '.repeat(25) + 'b\n').repeat(30),
    'lazy quotes': '> a\nb\n'.repeat(660),
    references: '[a]: http://ok.example\n'.repeat(160) + '[a] '.repeat(40),
    'raw html blocks': '<div>\n'.repeat(660),
    links: 'http://ok.example/ '.repeat(210),
    brackets: '['.repeat(4000),
  }
  for (const [name, text] of Object.entries(shapes)) {
    t.ok(text.length <= MAX_LENGTH && accepted(text), `${name}: accepted by the api`)
    const start = performance.now()
    const { html } = renderMessage(text)
    const ms = performance.now() - start
    t.same(faults(html), [], `${name}: clean output`)
    t.ok(ms < 2000, `${name}: ${ms.toFixed(1)} ms`)
  }
})

t.test('the deepest quotes and lists the api accepts render, shown at most MAX_SHOWN_DEPTH deep, their text kept', async (t) => {
  const deepest: Record<string, string> = {
    quotes: '> '.repeat(100) + 'deep',
    'dash lists': '- '.repeat(100) + 'deep',
    'ordered lists': '1. '.repeat(100) + 'deep',
    'quotes in lists': '- > '.repeat(50) + 'deep',
    'indented lists': Array.from({ length: 100 }, (_, i) => ' '.repeat(i * 2) + '- deep').join('\n').slice(0, MAX_LENGTH),
    'quoted code': '> '.repeat(99) + '    deep',
  }
  for (const [name, text] of Object.entries(deepest)) {
    t.ok(accepted(text), `${name}: accepted by the api`)
    const { html } = renderMessage(text)
    t.same(faults(html), [], `${name}: clean output`)
    t.match(html, 'deep', `${name}: text kept`)
  }
})
