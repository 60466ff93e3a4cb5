import t from 'tap'
import { Parser } from 'htmlparser2'
import { ALLOWED_TAGS, previewHtml, renderMessage } from '../../services/worker/render'

t.test('the original app\'s examples, byte for byte', async (t) => {
  t.equal(renderMessage('hello *world*!').html, 'hello <em>world</em>!')
  t.equal(renderMessage('*hello* world!').html, '<em>hello</em> world!')
  t.equal(renderMessage('hello http://foo.com!').html, 'hello <a href="http://foo.com" rel="nofollow">http://foo.com</a>!')
  t.equal(renderMessage('hello foo.com!').html, 'hello <a href="http://foo.com" rel="nofollow">foo.com</a>!')
  t.same(renderMessage('hello http://foo.com!').links, ['http://foo.com'])
  t.same(renderMessage('hello foo.com!').links, ['http://foo.com'])
})

t.test('markdown and the allow-list', async (t) => {
  t.equal(renderMessage('**b** _i_ `c`').html, '<strong>b</strong> <em>i</em> <code>c</code>')
  t.equal(renderMessage('# Title\n\n> quote').html, '<p># Title</p><blockquote><p>quote</p></blockquote>', 'a heading is its text, a quote a quote')
  t.equal(renderMessage('<abbr title="x">y</abbr>').html, '<abbr title="x">y</abbr>')
  t.equal(renderMessage('[site](https://example.com/a?b=1&c=2)').html, '<a href="https://example.com/a?b=1&amp;c=2" rel="nofollow">site</a>')
  t.equal(renderMessage('`foo.com`').html, '<code>foo.com</code>', 'no links inside code')
  t.same(renderMessage('a.com b.com a.com').links, ['http://a.com', 'http://b.com'], 'links deduplicated, in order')
  t.equal(renderMessage('1 < 2 & 3 > "x"').html, '1 &lt; 2 &amp; 3 &gt; "x"')
})

t.test('preview blockquote format, every value escaped', async (t) => {
  t.equal(previewHtml({ url: 'http://foo.com', title: 'Foo', description: 'Bar' }),
    '<blockquote><p><a href="http://foo.com" rel="nofollow">Foo</a></p><p>Bar</p></blockquote>')
  t.equal(previewHtml({ url: 'http://foo.com/?a=1&b="2"', title: null, description: null }),
    '<blockquote><p><a href="http://foo.com/?a=1&amp;b=&quot;2&quot;" rel="nofollow">http://foo.com/?a=1&amp;b=&quot;2&quot;</a></p><p>No description found.</p></blockquote>')
  t.equal(previewHtml({ url: 'http://x.com', title: '<script>alert(1)</script>', description: '"><img src=x onerror=alert(1)>' }),
    '<blockquote><p><a href="http://x.com" rel="nofollow">&lt;script&gt;alert(1)&lt;/script&gt;</a></p><p>&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</p></blockquote>')
})

// Known XSS vectors: tags, handlers, URL schemes in many spellings, SVG/MathML, malformed
// markup, entity and encoding tricks, and Markdown link/image syntax carrying them.
const VECTORS = [
  '<script>alert(1)</script>',
  '<SCRIPT SRC=http://xss.example/xss.js></SCRIPT>',
  '<script>alert(1)</script',
  '<scr<script>ipt>alert(1)</scr</script>ipt>',
  '<<script>alert(1);//<</script>',
  '<style>@import "http://xss.example/x.css";</style>',
  '<style>body{background:url("javascript:alert(1)")}</style>',
  '<img src=x onerror=alert(1)>',
  '<IMG SRC="javascript:alert(1);">',
  '<IMG SRC=javascript:alert(&quot;XSS&quot;)>',
  '<IMG SRC=`javascript:alert("RSnake says, \'XSS\'")`>',
  '<img """><script>alert("XSS")</script>">',
  '<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>',
  '<body onload=alert(1)>',
  '<b onmouseover=alert(1)>bold</b>',
  '<em onclick="alert(1)">x</em>',
  '<a href="javascript:alert(1)">x</a>',
  '<a href="JaVaScRiPt:alert(1)">x</a>',
  '<a href=" javascript:alert(1)">x</a>',
  '<a href="jav&#x09;ascript:alert(1)">x</a>',
  '<a href="jav\tascript:alert(1)">x</a>',
  '<a href="&#106;avascript:alert(1)">x</a>',
  '<a href="&#x6A;avascript:alert(1)">x</a>',
  '<a href="javascript&colon;alert(1)">x</a>',
  '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
  '<a href="vbscript:msgbox(1)">x</a>',
  '<a href="VBScript:msgbox(1)">x</a>',
  '<a href="//evil.example/x">x</a>',
  '<a href="http://ok.example" onclick="alert(1)" style="x:expression(alert(1))">x</a>',
  '<a href="http://ok.example" target="_blank" rel="opener">x</a>',
  '<iframe src="javascript:alert(1)"></iframe>',
  '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
  '<object data="javascript:alert(1)"></object>',
  '<embed src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
  '<svg onload=alert(1)>',
  '<svg><script>alert(1)</script></svg>',
  '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
  '<svg><animate onbegin=alert(1) attributeName=x dur=1s>',
  '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
  '<math href="javascript:alert(1)">CLICK</math>',
  '<form action="javascript:alert(1)"><input type=submit></form>',
  '<input onfocus=alert(1) autofocus>',
  '<details open ontoggle=alert(1)>',
  '<video><source onerror="alert(1)"></video>',
  '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
  '<link rel=stylesheet href="javascript:alert(1)">',
  '<base href="javascript:alert(1)//">',
  '<div style="background-image: url(javascript:alert(1))">x</div>',
  '<table background="javascript:alert(1)">',
  '<!--<script>alert(1)</script>-->',
  '<![CDATA[<script>alert(1)</script>]]>',
  '<b <script>alert(1)</script>>x</b>',
  '<a href="http://ok.example"<script>alert(1)</script>>x</a>',
  '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
  '<template><script>alert(1)</script></template>',
  '<textarea><script>alert(1)</script></textarea>',
  '<title><script>alert(1)</script></title>',
  '<xmp><script>alert(1)</script></xmp>',
  '&lt;script&gt;alert(1)&lt;/script&gt;',
  '\u003cscript\u003ealert(1)\u003c/script\u003e',
  '%3Cscript%3Ealert(1)%3C/script%3E',
  '[click](javascript:alert(1))',
  '[click](JAVASCRIPT:alert(1))',
  '[click](javascript&#58;alert(1))',
  '[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '[click](vbscript:msgbox(1))',
  '[click]( javascript:alert(1) )',
  '[click](<javascript:alert(1)>)',
  '[a](http://ok.example "title\\" onmouseover=\\"alert(1)")',
  '![img](javascript:alert(1))',
  '![img](x" onerror="alert(1))',
  '![img](http://ok.example/x.png)',
  '[![img](x)](javascript:alert(1))',
  '<javascript:alert(1)>',
  '[ref]\n\n[ref]: javascript:alert(1)',
  '`<script>alert(1)</script>`',
  '```\n<script>alert(1)</script>\n```',
  '**<img src=x onerror=alert(1)>**',
  '*<a href="javascript:alert(1)">x</a>*',
  'javascript:alert(1)',
  'http://ok.example/"><script>alert(1)</script>',
  'www.ok.example/<img src=x onerror=alert(1)>',
  '<a href="http://ok.example/" title="x" onmouseover="alert(1)">ok</a>',
  '<abbr title="x" onclick="alert(1)">y</abbr>',
  '<code onmouseover=alert(1)>x</code>',
  '<strong/onmouseover=alert(1)>x</strong>',
  '<i\nonclick=alert(1)>x</i>',
  '<a href=\'javascript:alert(1)\'>x</a>',
  '<a href=javascript:alert(1)>x</a>',
  '<a href="java\u0000script:alert(1)">x</a>',
  '<a href="java&NewLine;script:alert(1)">x</a>',
  '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(1)">x</a>',
  '<a href="data&colon;text/html,<script>alert(1)</script>">x</a>',
  '<isindex action=javascript:alert(1) type=image>',
  '<marquee onstart=alert(1)>x</marquee>',
  '<keygen autofocus onfocus=alert(1)>',
  // Aimed at the block tags: code, lists, quotes, strikethrough, reference links, the text-only blocks.
  '```html\n<img src=x onerror=alert(1)>\n```',
  '~~~\n</code></pre><script>alert(1)</script>\n~~~',
  '    </code></pre><img src=x onerror=alert(1)>\n    <script>alert(1)</script>',
  '```"><script>alert(1)</script>\nx\n```',
  '``` onmouseover=alert(1)\nx\n```',
  '> ```\n> <script>alert(1)</script>\n> ```',
  '- ```\n  </li></ul><script>alert(1)</script>\n  ```',
  '- <script>alert(1)</script>\n- <img src=x onerror=alert(1)>',
  '- a\n  - <a href="javascript:alert(1)">x</a>\n    - [y](javascript:alert(1))',
  '> <svg onload=alert(1)>\n> > <iframe src=javascript:alert(1)></iframe>',
  '> - > - <b onclick=alert(1)>x</b>',
  '1. x\n2. <ol start="javascript:alert(1)" onclick="alert(1)"><li>x</li></ol>',
  '<ol start="1 onclick=alert(1)"><li>x</li></ol>\n\n1. y',
  '<ul><li onclick=alert(1)>x</li></ul>\n\n- y',
  '<blockquote cite="javascript:alert(1)">x</blockquote>\n\n> q',
  '<pre onmouseover="alert(1)">x</pre>\n\npara',
  '<p style="background:url(javascript:alert(1))">x</p>\n\npara',
  '<br onload=alert(1)>',
  '[x][1]\n\n[1]: javascript:alert(1)',
  '[x][1]\n\n[1]: <javascript:alert(1)> "t"',
  '[x]\n\n[x]: data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
  '[x][1]\n\n[1]: //evil.example',
  '- [x][a]\n\n[a]: vbscript:msgbox(1)',
  '> [q][1]\n\n[1]: http://ok.example "x\" onmouseover=\"alert(1)"',
  '![x](javascript:alert(1))\n\n![y][1]\n\n[1]: javascript:alert(1)',
  '`<https://ok.example>` and `javascript:alert(1)`',
  '```\nhttp://ok.example/"><script>alert(1)</script>\n```',
  '    www.ok.example/<img src=x onerror=alert(1)>',
  '<del onclick="alert(1)" style="x" class="y">x</del>',
  '~~<img src=x onerror=alert(1)>~~',
  '~~[x](javascript:alert(1))~~',
  '# <script>alert(1)</script>',
  '| <img src=x onerror=alert(1)> |\n|---|\n| [x](javascript:alert(1)) |',
  '- [ ] <input onfocus=alert(1) autofocus>',
  '- [x] task\n- [ ] <script>alert(1)</script>',
  '***\n<hr onclick=alert(1)>',
  'Title\n===\n<h1 onclick=alert(1)>x</h1>',
  '<a href="http://ok.example">a</a><a href="javascript:alert(1)">b</a>*<a href="http://ok.example">c</a>*',
]

const SAFE_SCHEME = /^(https?:\/\/|mailto:)/i

// Parses rendered output like a browser would and lists anything that could execute or mislead.
function dangers (html: string): string[] {
  const found: string[] = []
  const parser = new Parser({
    onopentag (name, attribs) {
      if (!ALLOWED_TAGS.includes(name)) found.push(`tag <${name}>`)
      for (const [attr, value] of Object.entries(attribs)) {
        if (attr === 'start' && name === 'ol') {
          if (!/^\d+$/.test(value)) found.push(`start ${value}`)
        } else if (!['href', 'title', 'rel'].includes(attr)) found.push(`attribute ${attr} on <${name}>`)
        if (attr === 'href' && (name !== 'a' || !SAFE_SCHEME.test(value))) found.push(`href ${value}`)
        if (attr === 'rel' && value !== 'nofollow') found.push(`rel ${value}`)
      }
      if (name === 'a' && attribs.rel !== 'nofollow') found.push('link without rel=nofollow')
      if (name === 'a' && attribs.href === undefined) found.push('link without href')
    },
    onclosetag (name) { if (!ALLOWED_TAGS.includes(name)) found.push(`closing tag </${name}>`) },
    oncomment () { found.push('comment') },
    oncdatastart () { found.push('cdata') },
    onprocessinginstruction (name) { found.push(`instruction ${name}`) },
  }, { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true, recognizeCDATA: true })
  parser.write(html)
  parser.end()
  return found
}

t.test(`${VECTORS.length} XSS vectors leave no executable markup`, async (t) => {
  // The checker must catch each raw HTML vector, or a renderer passing it through would pass too.
  const uncaught = VECTORS.filter((vector) => vector.startsWith('<') && dangers(vector).length === 0)
  t.same(uncaught, [], 'every raw HTML vector is dangerous to the checker')
  for (const vector of VECTORS) {
    const { html, links } = renderMessage(vector)
    t.same(dangers(html), [], `${JSON.stringify(vector)} -> ${JSON.stringify(html)}`)
    t.notMatch(html, /<(script|style|iframe|svg|math|img|object|embed)/i, 'no dangerous tag, even unparsed')
    for (const link of links) t.match(link, /^https?:\/\//, 'preview candidates are web links only')
  }
})

t.test('script and style contents are dropped, not kept as text', async (t) => {
  t.equal(renderMessage('a<script>alert(1)</script>b').html, 'ab')
  t.equal(renderMessage('a<style>body{}</style>b').html, 'ab')
  t.equal(renderMessage('<svg><script>alert(1)</script></svg>ok').html, 'ok')
})
