// Link previews: the URL rules, a page's title and description, and the previewer, which loads
// the HTTP side (link-fetch.ts, undici) with the first link it previews.
import type { Agent } from 'undici'
import { Parser } from 'htmlparser2'
import type * as LinkFetch from './link-fetch'
import type { fetchPage } from './link-fetch'
import type { LinkPreview } from './render'

export interface PreviewLimits {
  allowPrivate: boolean
  timeoutMs: number
  maxBytes: number
  maxRedirects: number
}

// A fetch the SSRF policy or the limits refused; `reason` says which rule.
export class PreviewRefused extends Error {
  constructor (readonly reason: string) { super(`link preview refused: ${reason}`) }
}

const MAX_TITLE = 300
const MAX_DESCRIPTION = 1000

// The URL rules checked before every hop: http(s), no credentials, a host.
export function checkPreviewUrl (raw: string, base?: URL): URL {
  let url: URL
  try {
    url = new URL(raw, base)
  } catch {
    throw new PreviewRefused('invalid URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PreviewRefused(`scheme ${url.protocol} not allowed`)
  if (url.username !== '' || url.password !== '') throw new PreviewRefused('credentials in URL')
  if (url.hostname === '') throw new PreviewRefused('no host')
  return url
}

const tidy = (text: string, max: number): string | null => {
  const clean = text.replace(/\s+/g, ' ').trim()
  return clean === '' ? null : clean.slice(0, max)
}

// Title and description from a page: <title> or og:title, meta description or og:description.
export function pageSummary (html: string): { title: string | null, description: string | null } {
  let title = ''
  let inTitle = false
  let titleDone = false
  const meta: Record<string, string> = {}
  const parser = new Parser({
    onopentag (name, attribs) {
      if (name === 'title' && !titleDone) inTitle = true
      if (name === 'meta') {
        const key = (attribs.name ?? attribs.property ?? '').toLowerCase()
        if (key !== '' && attribs.content !== undefined && !(key in meta)) meta[key] = attribs.content
      }
    },
    ontext (text) { if (inTitle) title += text },
    onclosetag (name) {
      if (name === 'title' && inTitle) { inTitle = false; titleDone = true }
    },
  }, { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true })
  parser.write(html)
  parser.end()
  return {
    title: tidy(title, MAX_TITLE) ?? tidy(meta['og:title'] ?? '', MAX_TITLE),
    description: tidy(meta.description ?? '', MAX_DESCRIPTION) ?? tidy(meta['og:description'] ?? '', MAX_DESCRIPTION),
  }
}

export interface Previewer {
  // The preview of a link, or null when it was refused or could not be fetched.
  preview: (url: string) => Promise<LinkPreview | null>
  close: () => Promise<void>
}

interface Fetcher { agent: Agent, fetchPage: typeof fetchPage }

export function createPreviewer (limits: PreviewLimits, onError: (url: string, err: Error) => void = () => {}): Previewer {
  let fetching: Promise<Fetcher> | null = null
  const load = async (): Promise<Fetcher> => {
    const http = require('./link-fetch') as typeof LinkFetch
    return { agent: http.createPreviewAgent(limits), fetchPage: http.fetchPage }
  }
  return {
    preview: async (url) => {
      try {
        const { agent, fetchPage } = await (fetching ??= load())
        const page = await fetchPage(agent, url, limits)
        const summary = page.html === null ? { title: null, description: null } : pageSummary(page.html)
        return { url, ...summary }
      } catch (err) {
        onError(url, err as Error)
        return null
      }
    },
    close: async () => { await (await fetching?.catch(() => null))?.agent.close() },
  }
}
