import { Marked, type Token, type TokensList, type Tokens } from 'marked'
import sanitizeHtml from 'sanitize-html'
import linkifyHtml from 'linkify-html'

// The tags of a message of one paragraph, as in Flack (docs/API.md, "Message"), plus `br` and `del`.
export const INLINE_TAGS = ['a', 'abbr', 'acronym', 'b', 'br', 'code', 'del', 'em', 'i', 'strong']
// What a source with blocks adds; only Markdown makes these, raw HTML of them is stripped like any other tag.
export const BLOCK_TAGS = ['blockquote', 'li', 'ol', 'p', 'pre', 'ul']
// Every tag a rendered message may hold; any other tag is stripped, its text kept.
export const ALLOWED_TAGS = [...INLINE_TAGS, ...BLOCK_TAGS]

// Quotes and lists nest at most this deep on screen; deeper ones show their content unwrapped.
export const MAX_SHOWN_DEPTH = 8

// Elements whose contents are code or metadata, never chat text: dropped with their contents.
const DROPPED_WITH_CONTENTS = ['script', 'style', 'textarea', 'option', 'noscript', 'template', 'iframe',
  'noembed', 'noframes', 'xmp', 'title', 'object', 'embed', 'frameset', 'head', 'select', 'plaintext']

const MAY_LINK = /[.:]|localhost/i
const SAFE_HREF = /^(?:https?:\/\/|mailto:)/i
// A block tag written as raw HTML: renamed to a tag the sanitiser strips, its text kept.
const RAW_BLOCK_TAG = new RegExp(`<(/?)(${BLOCK_TAGS.join('|')})(?=[\\s/>]|$)`, 'gi')

export interface RenderedMessage {
  html: string
  // Absolute http(s) links of the message, in order, without duplicates: the preview candidates.
  links: string[]
}

const escapeMap: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => escapeMap[c])

// Containers open around the block being rendered (rendering is synchronous, one message at a time).
let shownDepth = 0

// Block tokens with no wrapper: a tight item's text (after its task box, if any) becomes a paragraph of its own.
function unwrapped (parser: { parse: (tokens: Token[]) => string, parseInline: (tokens: Token[]) => string }, tokens: Token[]): string {
  let box = ''
  let out = ''
  for (const token of tokens) {
    if (token.type === 'checkbox') box = parser.parse([token])
    else if (token.type === 'text') out += `<p>${box}${parser.parseInline(token.tokens ?? [token])}</p>`
    else out += box + parser.parse([token])
    if (token.type !== 'checkbox') box = ''
  }
  return out + box
}

// GitHub-flavoured Markdown with a newline as `<br>`; marked's own autolinks of web addresses stay
// (same output as linkify's), but a bare e-mail address stays text, as in Flack: only an explicit
// link (`[me](mailto:...)`, `<me@example.com>`) makes a mailto: link. Blocks render with no
// newlines between them.
const markdown = new Marked({ gfm: true, breaks: true, async: false })
markdown.use({
  tokenizer: {
    url (src) {
      const match = this.rules.inline.url.exec(src)
      if (match === null || match[2] !== '@') return false // not an address: marked's own autolink
      // A text token where marked's typing expects a link: the lexer takes any token here.
      return { type: 'text', raw: match[0], text: match[0] } as unknown as Tokens.Link
    },
  },
  renderer: {
    paragraph ({ tokens }) { return `<p>${this.parser.parseInline(tokens)}</p>` },
    code ({ text }) { return `<pre><code>${escapeHtml(text)}</code></pre>` },
    blockquote ({ tokens }) {
      if (shownDepth >= MAX_SHOWN_DEPTH) return unwrapped(this.parser, tokens)
      shownDepth++
      try { return `<blockquote>${this.parser.parse(tokens)}</blockquote>` } finally { shownDepth-- }
    },
    list ({ ordered, start, items }) {
      if (shownDepth >= MAX_SHOWN_DEPTH) return items.map((item) => unwrapped(this.parser, item.tokens)).join('')
      shownDepth++
      try {
        const body = items.map((item) => `<li>${this.parser.parse(item.tokens)}</li>`).join('')
        return ordered ? `<ol${start !== '' && start !== 1 ? ` start="${start}"` : ''}>${body}</ol>` : `<ul>${body}</ul>`
      } finally { shownDepth-- }
    },
    // A task list's box stays the text typed: no form controls in a message.
    checkbox ({ checked }) { return checked ? '[x] ' : '[ ] ' },
    html ({ text }) { return text.replace(RAW_BLOCK_TAG, '<$1x-$2') },
    // marked leaves text after a raw <code>, <kbd>, <pre> or <script> unescaped: a bare `<` there
    // would open a tag that swallows the rest (linkify-html drops the space in `< b`).
    text (token) {
      if (!('escaped' in token) || token.escaped !== true || ('tokens' in token && token.tokens !== undefined)) return false
      return token.text.replace(/</g, '&lt;').replace(/>/g, '&gt;')
    },
  },
})

type TextBlock = Tokens.Paragraph | Tokens.Text

const isTextBlock = (token: Token | undefined): token is TextBlock => token?.type === 'paragraph' || token?.type === 'text'
const endsBlank = (raw: string): boolean => /\n[ \t]*\n[ \t]*$/.test(raw)

// Headings, rules and tables are not chat: each shows as the text typed (inline Markdown still
// applies), joined by a line break to the text on the lines next to it. In place, through quotes and lists.
function asTyped (tokens: Token[], links: TokensList['links'], kind: 'paragraph' | 'text'): Token[] {
  const out: Token[] = []
  let lastTyped = false
  for (let token of tokens) {
    if (token.type === 'blockquote') asTypedIn(token as Tokens.Blockquote, links, 'paragraph')
    if (token.type === 'list') for (const item of (token as Tokens.List).items) asTypedIn(item, links, item.loose ? 'paragraph' : 'text')
    const typed = token.type === 'heading' || token.type === 'hr' || token.type === 'table'
    if (typed) {
      const text = token.raw.replace(/\n+$/, '').split('\n').map((line) => line.trim()).join('\n')
      const lexer = new markdown.Lexer(markdown.defaults)
      lexer.tokens.links = links
      token = { type: kind, raw: token.raw, text, tokens: lexer.inlineTokens(text) } as TextBlock
    }
    const last = out[out.length - 1]
    if ((typed || lastTyped) && isTextBlock(token) && isTextBlock(last) && !endsBlank(last.raw)) {
      last.tokens?.push({ type: 'br', raw: '\n' }, ...(token.tokens ?? []))
      last.raw += token.raw
      lastTyped = true
    } else {
      out.push(token)
      lastTyped = typed
    }
  }
  return out
}

function asTypedIn (container: { tokens: Token[] }, links: TokensList['links'], kind: 'paragraph' | 'text'): void {
  container.tokens = asTyped(container.tokens, links, kind)
}

const SANITIZE: sanitizeHtml.IOptions = {
  allowedAttributes: { a: ['href', 'title', 'rel'], abbr: ['title'], acronym: ['title'], ol: ['start'] },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesAppliedToAttributes: ['href'],
  allowProtocolRelative: false,
  nonTextTags: DROPPED_WITH_CONTENTS,
  disallowedTagsMode: 'discard',
  enforceHtmlBoundary: false,
  parser: { lowerCaseTags: true, lowerCaseAttributeNames: true },
}

// Every tag and attribute kept, as htmlparser2 reads them, with the text escaped: what linkify-html reads right.
const TIDY: sanitizeHtml.IOptions = { allowedTags: false, allowedAttributes: false, allowVulnerableTags: true, parser: SANITIZE.parser }

// Markdown -> linkified -> sanitised to the allow-list; sanitising last, so nothing before it is trusted.
// A source of one paragraph keeps Flack's output: its inline tags, no `<p>` around them.
export function renderMessage (source: string): RenderedMessage {
  const lexed = markdown.lexer(source)
  const tokens = asTyped(lexed, lexed.links, 'paragraph')
  const blocks = tokens.filter((token) => token.type !== 'space' && token.type !== 'def')
  const oneParagraph = blocks.length === 1 && blocks[0].type === 'paragraph'
  shownDepth = 0
  const rendered = markdown.parser(tokens)
  const tags = oneParagraph ? INLINE_TAGS : ALLOWED_TAGS
  // A link needs a dot, a scheme's colon or `localhost`: most chat lines skip the linkifier. Its
  // input is tidied first: linkify-html misreads stray markup (`a < b` becomes a tag `<b`).
  const linked = !MAY_LINK.test(rendered) ? rendered : linkifyHtml(sanitizeHtml(rendered, TIDY), {
    defaultProtocol: 'http',
    // x-pre: a raw <pre> (renamed above), whose text stays unlinked as it always was.
    ignoreTags: ['a', 'code', 'pre', 'x-pre', 'script', 'style'],
    // Only web links and bare domains: no mailto or other schemes invented from text.
    validate: { email: false },
  })
  const links: string[] = []
  const html = sanitizeHtml(linked, {
    ...SANITIZE,
    allowedTags: tags,
    // A link to nowhere keeps its text, not its tag (renaming it in transformTags misnames a later closing tag).
    exclusiveFilter: (frame) => frame.tag === 'a' && frame.attribs.href === undefined ? 'excludeTag' : false,
    transformTags: {
      a: (tagName, attribs) => {
        const href = attribs.href
        const out: Record<string, string> = {}
        // Not a web or mail link (relative, another scheme, none): no href, so the filter above unwraps it.
        if (href !== undefined && SAFE_HREF.test(href)) {
          out.href = href
          if (/^https?:\/\//i.test(href) && !links.includes(href)) links.push(href)
        }
        if (attribs.title !== undefined) out.title = attribs.title
        out.rel = 'nofollow'
        return { tagName, attribs: out }
      },
      ol: (tagName, attribs) => ({ tagName, attribs: /^\d{1,9}$/.test(attribs.start ?? '') ? { start: attribs.start } : {} as Record<string, string> }),
    },
  }).trim().replace(/<br \/>/g, '<br>') // sanitize-html writes a void tag as `<br />`
  return { html, links }
}

export interface LinkPreview { url: string, title: string | null, description: string | null }

// `<blockquote><p><a href="URL" rel="nofollow">TITLE</a></p><p>DESCRIPTION</p></blockquote>`, every value escaped.
export function previewHtml (preview: LinkPreview): string {
  const title = preview.title ?? preview.url
  const description = preview.description ?? 'No description found.'
  return `<blockquote><p><a href="${escapeHtml(preview.url)}" rel="nofollow">${escapeHtml(title)}</a></p><p>${escapeHtml(description)}</p></blockquote>`
}
