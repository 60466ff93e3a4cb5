import { Marked, type Tokens } from 'marked'
import sanitizeHtml from 'sanitize-html'
import linkifyHtml from 'linkify-html'

// The tags a rendered message may keep (docs/API.md, "Message"); every other tag is stripped, its text kept.
export const ALLOWED_TAGS = ['a', 'abbr', 'acronym', 'b', 'code', 'em', 'i', 'strong']

// Elements whose contents are code or metadata, never chat text: dropped with their contents.
const DROPPED_WITH_CONTENTS = ['script', 'style', 'textarea', 'option', 'noscript', 'template', 'iframe',
  'noembed', 'noframes', 'xmp', 'title', 'object', 'embed', 'frameset', 'head', 'select', 'plaintext']

const MAY_LINK = /[.:]|localhost/i

export interface RenderedMessage {
  html: string
  // Absolute http(s) links of the message, in order, without duplicates: the preview candidates.
  links: string[]
}

// GitHub-flavoured Markdown; marked's own autolinks of web addresses stay (same output as linkify's),
// but a bare e-mail address stays text, as in Flack: only an explicit link (`[me](mailto:...)`,
// `<me@example.com>`) makes a mailto: link.
const markdown = new Marked({ gfm: true, breaks: false, async: false })
markdown.use({
  tokenizer: {
    url (src) {
      const match = this.rules.inline.url.exec(src)
      if (match === null || match[2] !== '@') return false // not an address: marked's own autolink
      // A text token where marked's typing expects a link: the lexer takes any token here.
      return { type: 'text', raw: match[0], text: match[0] } as unknown as Tokens.Link
    },
  },
})

const escapeMap: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => escapeMap[c])

// Markdown -> linkified -> sanitised to the allow-list; sanitising last, so nothing before it is trusted.
export function renderMessage (source: string): RenderedMessage {
  const rendered = markdown.parse(source, { async: false })
  // A link needs a dot, a scheme's colon or `localhost`: most chat lines skip the linkifier.
  const linked = !MAY_LINK.test(rendered) ? rendered : linkifyHtml(rendered, {
    defaultProtocol: 'http',
    ignoreTags: ['a', 'code', 'pre', 'script', 'style'],
    // Only web links and bare domains: no mailto or other schemes invented from text.
    validate: { email: false },
  })
  const links: string[] = []
  const html = sanitizeHtml(linked, {
    allowedTags: ALLOWED_TAGS,
    allowedAttributes: { a: ['href', 'title', 'rel'], abbr: ['title'], acronym: ['title'] },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesAppliedToAttributes: ['href'],
    allowProtocolRelative: false,
    nonTextTags: DROPPED_WITH_CONTENTS,
    disallowedTagsMode: 'discard',
    enforceHtmlBoundary: false,
    parser: { lowerCaseTags: true, lowerCaseAttributeNames: true },
    transformTags: {
      a: (tagName, attribs) => {
        const href = attribs.href
        if (href !== undefined && /^https?:\/\//i.test(href) && !links.includes(href)) links.push(href)
        const out: Record<string, string> = {}
        if (href !== undefined) out.href = href
        if (attribs.title !== undefined) out.title = attribs.title
        out.rel = 'nofollow'
        return { tagName, attribs: out }
      },
    },
  }).trim()
  return { html, links }
}

export interface LinkPreview { url: string, title: string | null, description: string | null }

// `<blockquote><p><a href="URL" rel="nofollow">TITLE</a></p><p>DESCRIPTION</p></blockquote>`, every value escaped.
export function previewHtml (preview: LinkPreview): string {
  const title = preview.title ?? preview.url
  const description = preview.description ?? 'No description found.'
  return `<blockquote><p><a href="${escapeHtml(preview.url)}" rel="nofollow">${escapeHtml(title)}</a></p><p>${escapeHtml(description)}</p></blockquote>`
}
