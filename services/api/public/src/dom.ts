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

// What the server's sanitiser lets through (services/worker/render.ts): inline tags, the
// blocks of block Markdown, the link preview's blockquote, and search snippets' mark. The server already sanitised the HTML;
// this second pass only makes sure nothing else can run even if that ever slipped.
const ALLOWED_TAGS = new Set(['A', 'ABBR', 'ACRONYM', 'B', 'BLOCKQUOTE', 'BR', 'CODE', 'DEL', 'EM', 'I', 'LI', 'MARK', 'OL', 'P', 'PRE', 'STRONG', 'UL'])
const ALLOWED_ATTRIBUTES: Record<string, string[]> = { A: ['href', 'title'], ABBR: ['title'], ACRONYM: ['title'], OL: ['start'] }
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
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' })
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' })

// The time of day; the date is on the day separator above, and in the tooltip.
export function timeElement (unixSeconds: number): HTMLTimeElement {
  const date = new Date(unixSeconds * 1000)
  return h('time', { datetime: date.toISOString(), title: dateTimeFormat.format(date) }, timeFormat.format(date))
}

export function dayLabel (unixSeconds: number): string {
  const date = new Date(unixSeconds * 1000)
  const today = new Date()
  if (date.toDateString() === today.toDateString()) return 'Today'
  if (date.toDateString() === new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1).toDateString()) return 'Yesterday'
  return dayFormat.format(date)
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
