import { inTransaction, type Db } from '../db'
import type { MessageRow } from '../models'
import { roomReadableBy } from './access'

// Full-text search of messages (PostgreSQL, web-search syntax) within the rooms a viewer may read.

export interface SearchHit { message: MessageRow, snippet: string }

// Snippets are cut from search_text(source) (migration search), where < > & " ' are \x01-\x05 and
// matches are wrapped in \x06 \x07; those seven become the entities and <mark>s here, so a snippet's
// only markup is <mark> whatever the source held.
const HEADLINE_OPTIONS = 'StartSel=\x06, StopSel=\x07, MaxWords=30, MinWords=10, ShortWord=0, HighlightAll=false'
const SNIPPET_CODES: Record<string, string> = {
  '\x01': '&lt;', '\x02': '&gt;', '\x03': '&amp;', '\x04': '&quot;', '\x05': '&#39;', '\x06': '<mark>', '\x07': '</mark>',
  '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;',
}
export const snippetHtml = (headline: string): string => headline.replace(/[\x01-\x07<>&"']/g, (c) => SNIPPET_CODES[c])

// Matches are ranked within the newest CANDIDATES of them: a word in one message of eight would
// otherwise rank every one of its matches (300 ms on 1,000,000 messages). The plan is chosen by a
// count through the GIN index, not by estimates (a rare word taken for common scanned the table by
// id for 400 ms): fewer matches than CANDIDATES, the GIN index; more, the newest by id (sent unnamed,
// so planned for its words). The readable-room rule of lib/rooms.ts (public, or a membership; general is public)
// applies before anything is ranked: a private room's messages are never ranked, counted or cut.
export const CANDIDATES = 1000
const TSQUERY = "websearch_to_tsquery('simple', $1)"
const VISIBLE_MATCHES = `FROM messages m JOIN rooms r ON r.id = m.room_id
        WHERE m.search @@ ${TSQUERY} AND NOT m.deleted
          AND ($3::int IS NULL OR m.room_id = $3)
          AND ${roomReadableBy('r', '$2::int')}`
const COUNT = `SELECT count(*)::int AS n FROM (SELECT 1 ${VISIBLE_MATCHES} LIMIT ${CANDIDATES}) c`
// Bitmap scans only: through the GIN index whatever the estimates.
const GIN_ONLY = 'SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off'
const ANY_PLAN = 'RESET enable_seqscan; RESET enable_indexscan'
const SEARCH = `
    SELECT m.id, m.created_at AS "createdAt", m.updated_at AS "updatedAt", m.source, m.html, m.user_id AS "userId",
           m.room_id AS "roomId", m.edited_at AS "editedAt", m.deleted,
           ts_headline('simple', search_text(m.source), ${TSQUERY}, $5) AS snippet
    FROM (
      SELECT c.*, ts_rank(c.search, ${TSQUERY}) AS rank FROM (
        SELECT m.* ${VISIBLE_MATCHES}
        ORDER BY m.id DESC
        LIMIT ${CANDIDATES}
      ) c
      ORDER BY rank DESC, c.id DESC
      LIMIT $4
    ) m
    ORDER BY m.rank DESC, m.id DESC`

// The best `limit` of the newest CANDIDATES matches, best first; room: only that room (the caller checks it may read it).
export async function searchMessages (db: Db, viewer: number | null, query: string, room: number | null, limit: number): Promise<SearchHit[]> {
  const rows = await inTransaction(db, async (client) => {
    await client.query(GIN_ONLY)
    const { rows: [{ n }] } = await client.query<{ n: number }>(COUNT, [query, viewer, room])
    if (n >= CANDIDATES) await client.query(ANY_PLAN)
    const found = await client.query<MessageRow & { snippet: string }>(SEARCH, [query, viewer, room, limit, HEADLINE_OPTIONS])
    // A caller's own transaction keeps its planner settings.
    if (n < CANDIDATES) await client.query(ANY_PLAN)
    return found.rows
  })
  return rows.map(({ snippet, ...message }) => ({ message, snippet: snippetHtml(snippet) }))
}
