import t from 'tap'
import fc from 'fast-check'
import { Parser } from 'htmlparser2'
import { MAX_SHOWN_DEPTH, previewHtml, renderMessage } from '../../services/worker/render'

const html = (source: string): string => renderMessage(source).html

t.test('a message of one paragraph keeps Flack\'s output: inline tags, no <p>', async (t) => {
  t.equal(html('hello *world*!'), 'hello <em>world</em>!')
  t.equal(html('**b** _i_ `c` ~~d~~'), '<strong>b</strong> <em>i</em> <code>c</code> <del>d</del>')
  t.equal(html('hello foo.com!'), 'hello <a href="http://foo.com" rel="nofollow">foo.com</a>!')
  t.equal(html('  padded  '), 'padded')
  t.equal(html('[x][1]\n\n[1]: http://a.com'), '<a href="http://a.com" rel="nofollow">x</a>', 'a reference definition is no block')
  t.equal(html('see <ul><li>raw</li></ul> *html*'), 'see raw <em>html</em>', 'raw HTML of block tags is stripped, its text kept')
})

t.test('a single newline is a <br>', async (t) => {
  t.equal(html('one\ntwo\nthree'), 'one<br>two<br>three')
  t.equal(html('hard  \nbreak'), 'hard<br>break')
  t.equal(html('*a\nb*'), '<em>a<br>b</em>')
})

t.test('blocks render: paragraphs, code, lists, quotes', async (t) => {
  t.equal(html('a\n\nb'), '<p>a</p><p>b</p>')
  t.equal(html('```js\nconst a = 1 < 2\n  indented\n```'), '<pre><code>const a = 1 &lt; 2\n  indented</code></pre>', 'fenced code, no language class')
  t.equal(html('~~~\nx\n~~~'), '<pre><code>x</code></pre>')
  t.equal(html('    four spaces\n    more'), '<pre><code>four spaces\nmore</code></pre>', 'indented code')
  t.equal(html('- a\n- *b*'), '<ul><li>a</li><li><em>b</em></li></ul>')
  t.equal(html('1. one\n2. two'), '<ol><li>one</li><li>two</li></ol>')
  t.equal(html('3. three\n4. four'), '<ol start="3"><li>three</li><li>four</li></ol>', 'an ordered list keeps its first number')
  t.equal(html('- a\n  - b'), '<ul><li>a<ul><li>b</li></ul></li></ul>')
  t.equal(html('- a\n\n- b'), '<ul><li><p>a</p></li><li><p>b</p></li></ul>', 'a loose list has paragraphs')
  t.equal(html('> quoted\n> more'), '<blockquote><p>quoted<br>more</p></blockquote>')
  t.equal(html('> a\n> > b'), '<blockquote><p>a</p><blockquote><p>b</p></blockquote></blockquote>')
  t.equal(html('text\n\n> quote\n\n- item'), '<p>text</p><blockquote><p>quote</p></blockquote><ul><li>item</li></ul>')
  t.equal(html('- [ ] todo\n- [x] done'), '<ul><li>[ ] todo</li><li>[x] done</li></ul>', 'task boxes stay text: no form controls')
})

t.test('headings, rules and tables show as the text typed', async (t) => {
  t.equal(html('# of users: 5'), '# of users: 5', 'a heading line alone is one paragraph of text')
  t.equal(html('## *Big* news'), '## <em>Big</em> news', 'inline Markdown still applies')
  t.equal(html('before\n# heading\nafter'), 'before<br># heading<br>after', 'joined to the lines next to it')
  t.equal(html('Title\n====='), 'Title<br>=====')
  t.equal(html('---'), '---')
  t.equal(html('a\n\n***\n\nb'), '<p>a</p><p>***</p><p>b</p>')
  t.equal(html('| a | b |\n|---|---|\n| 1 | 2 |'), '| a | b |<br>|---|---|<br>| 1 | 2 |')
  t.equal(html('# Title\n\n> quote'), '<p># Title</p><blockquote><p>quote</p></blockquote>')
  t.equal(html('> # quoted heading\n> text'), '<blockquote><p># quoted heading<br>text</p></blockquote>')
  t.equal(html('- # in a list\n  text'), '<ul><li># in a list<br>text</li></ul>')
})

t.test('images, raw HTML and unsafe links', async (t) => {
  t.equal(html('look ![cat](http://x.com/cat.png)'), 'look', 'images are dropped, as in Flack')
  t.equal(html('<div>\n\n*x*\n\n</div>'), '<p><em>x</em></p>')
  t.equal(html('<pre>raw foo.com</pre>\n\n- item'), 'raw foo.com<ul><li>item</li></ul>', 'raw <pre> is text, unlinked as before')
  t.equal(html('<del class="x" onclick="y">gone</del>'), '<del>gone</del>')
  t.equal(html('[here](/relative) [there](javascript:alert(1)) [far](//evil.example)'), 'here there far', 'no scheme but http, https, mailto: text')
  t.equal(html('<a href="javascript:x">a</a> <a href="http://ok.example">b</a> *<a href="http://ok.example/2">c</a>*'),
    'a <a href="http://ok.example" rel="nofollow">b</a> <em><a href="http://ok.example/2" rel="nofollow">c</a></em>', 'an unwrapped link leaves the next ones whole')
})

t.test('links in blocks carry rel="nofollow"; code is never linked', async (t) => {
  const { html: out, links } = renderMessage('- see foo.com\n- [x](https://x.org)\n\n> http://q.net\n\n```\nhttp://code.example\n```\n\n`www.span.example`')
  t.equal(out, '<ul><li>see <a href="http://foo.com" rel="nofollow">foo.com</a></li><li><a href="https://x.org" rel="nofollow">x</a></li></ul>' +
    '<blockquote><p><a href="http://q.net" rel="nofollow">http://q.net</a></p></blockquote>' +
    '<pre><code>http://code.example</code></pre><p><code>www.span.example</code></p>')
  t.same(links, ['http://foo.com', 'https://x.org', 'http://q.net'])
  t.equal(out + previewHtml({ url: 'http://foo.com', title: 'Foo', description: null }),
    `${out}<blockquote><p><a href="http://foo.com" rel="nofollow">Foo</a></p><p>No description found.</p></blockquote>`, 'a preview follows the blocks')
})

t.test(`quotes and lists show at most ${MAX_SHOWN_DEPTH} levels deep; deeper ones unwrapped, their text kept`, async (t) => {
  const quotes = html('> '.repeat(MAX_SHOWN_DEPTH + 5) + 'deep')
  t.equal(quotes, '<blockquote>'.repeat(MAX_SHOWN_DEPTH) + '<p>deep</p>' + '</blockquote>'.repeat(MAX_SHOWN_DEPTH))
  const list = Array.from({ length: MAX_SHOWN_DEPTH + 3 }, (_, i) => `${'  '.repeat(i)}- l${i}`).join('\n')
  const out = html(list)
  t.equal(out.split('<ul>').length - 1, MAX_SHOWN_DEPTH)
  for (let i = 0; i < MAX_SHOWN_DEPTH + 3; i++) t.match(out, `l${i}`, `item ${i} kept`)
  t.match(out, `<li>l${MAX_SHOWN_DEPTH - 1}<p>l${MAX_SHOWN_DEPTH}</p>`)
  t.match(html('> '.repeat(MAX_SHOWN_DEPTH) + '- [x] done\n' + '> '.repeat(MAX_SHOWN_DEPTH) + '- [ ] todo'), '<p>[x] done</p><p>[ ] todo</p>', 'task boxes stay with their text')
})

// The text a reader sees: the rendered markup's text nodes, entities decoded.
function visibleText (markup: string): string {
  let text = ''
  const parser = new Parser({ ontext (chunk) { text += chunk } }, { decodeEntities: true })
  parser.write(markup)
  parser.end()
  return text
}

t.test('rule: text in or after raw HTML keeps every word, a < among them, links or not', async (t) => {
  t.equal(html('1 <code>a < b</code> see x.com'), '1 <code>a &lt; b</code> see <a href="http://x.com" rel="nofollow">x.com</a>')
  t.equal(html('<div>\nif a < b then x.com\n</div>'), 'if a &lt; b then <a href="http://x.com" rel="nofollow">x.com</a>')
  const word = fc.stringMatching(/^[a-z]{1,8}$/)
  const wrap = fc.constantFrom((x: string) => `w <code> ${x}`, (x: string) => `w <kbd> ${x}`, (x: string) => `w <PRE> ${x}`, (x: string) => `<div>\n${x}\n</div>`,
    (x: string) => `<table>\n<tr><td>${x}</td></tr>\n</table>`, (x: string) => `<b>\n${x}`, (x: string) => `a <i title="<">${x}</i>`)
  fc.assert(fc.property(wrap, fc.array(word, { minLength: 1, maxLength: 6 }), // No `<` right before a letter or `/`: in raw HTML that opens a tag, text to nobody.
    fc.constantFrom('< ', ' < ', '<< ', '>', '<>', '< /', '<=', '<3'),
    fc.constantFrom('', ' x.com', ' http://x.com/a', '\nmore'), (wrapIn, words, lt, tail) => {
      const source = wrapIn(words.join(lt) + tail)
      const seen = visibleText(html(source))
      for (const w of [...words, ...tail.trim().replace(/^http:\/\//, '').split(/\s+/).filter(Boolean)]) {
        if (!seen.includes(w)) throw new Error(`${w} lost: ${JSON.stringify(source)} -> ${JSON.stringify(html(source))}`)
      }
      if (words.length > 1 && !seen.includes(lt.trim())) throw new Error(`${lt} lost: ${JSON.stringify(source)} -> ${JSON.stringify(html(source))}`)
    }), { numRuns: 500, seed: 5 })
})
