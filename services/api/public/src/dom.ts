// Small DOM helpers. Text always goes in as text; only `trustedHtml` builds markup.

export function byId<T extends HTMLElement = HTMLElement> (id: string): T {
  const el = document.getElementById(id)
  if (el === null) throw new Error(`#${id} is missing from the page`)
  return el as T
}

type Child = Node | string | null | undefined | false

export function h<K extends keyof HTMLElementTagNameMap> (
  tag: K, props: Partial<Record<string, string>> = {}, ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(props)) if (value !== undefined) el.setAttribute(name, value)
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child)
  return el
}

// What the server's sanitiser lets through (services/worker/render.ts), plus the
// link preview's blockquote and paragraphs. The server already sanitised the HTML;
// this second pass only makes sure nothing else can run even if that ever slipped.
const ALLOWED_TAGS = new Set(['A', 'ABBR', 'ACRONYM', 'B', 'BLOCKQUOTE', 'BR', 'CODE', 'EM', 'I', 'P', 'STRONG'])
const ALLOWED_ATTRIBUTES: Record<string, string[]> = { A: ['href', 'title'], ABBR: ['title'], ACRONYM: ['title'] }
const SAFE_URL = /^(?:https?:|mailto:)/i

export function trustedHtml (html: string): DocumentFragment {
  const template = document.createElement('template')
  template.innerHTML = html
  clean(template.content)
  return template.content
}

function clean (parent: ParentNode): void {
  for (const node of [...parent.childNodes]) {
    if (node.nodeType === Node.TEXT_NODE) continue
    if (!(node instanceof Element)) {
      node.remove()
      continue
    }
    clean(node)
    if (!ALLOWED_TAGS.has(node.tagName)) {
      // Unknown elements give up their text, like the server's sanitiser.
      node.replaceWith(...node.childNodes)
      continue
    }
    const allowed = ALLOWED_ATTRIBUTES[node.tagName] ?? []
    for (const attr of [...node.attributes]) if (!allowed.includes(attr.name)) node.removeAttribute(attr.name)
    if (node.tagName === 'A') {
      const href = node.getAttribute('href') ?? ''
      if (!SAFE_URL.test(href.trim())) node.removeAttribute('href')
      node.setAttribute('rel', 'nofollow noopener noreferrer')
      node.setAttribute('target', '_blank')
    }
  }
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' })
const dayTimeFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' })
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })

// Today's messages show the time; older ones (at most a day, the API's window) the weekday too.
export function timeElement (unixSeconds: number): HTMLTimeElement {
  const date = new Date(unixSeconds * 1000)
  const today = date.toDateString() === new Date().toDateString()
  return h('time', { datetime: date.toISOString(), title: dateTimeFormat.format(date) }, (today ? timeFormat : dayTimeFormat).format(date))
}

// The user id a token was issued to (its `sub` claim); the server still checks the token.
export function tokenUserId (token: string): number | null {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
    const id = Number((JSON.parse(atob(payload)) as { sub?: unknown }).sub)
    return Number.isSafeInteger(id) && id > 0 ? id : null
  } catch {
    return null
  }
}
