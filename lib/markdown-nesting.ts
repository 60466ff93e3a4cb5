// How deeply a Markdown source nests, measured the way marked would build it, in one pass.
// marked recurses once per level (block quotes, list items, emphasis), so a source thousands of
// levels deep overflows the stack in the worker; the api refuses it before it is queued.
// Both measures err on the high side: a real chat message is a few levels deep.

export const MAX_MARKDOWN_NESTING = 100

const SPACE = 32
const TAB = 9
const GT = 62

// Columns of the whitespace at `i` (a tab counts as 4), and where it ends.
function whitespace (line: string, i: number): { columns: number, end: number } {
  let columns = 0
  for (; i < line.length; i++) {
    const c = line.charCodeAt(i)
    if (c === SPACE) columns++
    else if (c === TAB) columns += 4
    else break
  }
  return { columns, end: i }
}

// The end of a list marker (`-`, `+`, `*`, `1.` or `1)`, then whitespace or the line's end) at `i`, or -1.
function listMarkerEnd (line: string, i: number): number {
  const c = line[i]
  let j = i
  if (c === '-' || c === '+' || c === '*') {
    j = i + 1
  } else {
    while (j < line.length && j - i < 9 && line.charCodeAt(j) >= 48 && line.charCodeAt(j) <= 57) j++
    if (j === i || (line[j] !== '.' && line[j] !== ')')) return -1
    j++
  }
  if (j < line.length && line.charCodeAt(j) !== SPACE && line.charCodeAt(j) !== TAB) return -1
  return j
}

// Block nesting: per line, its container markers (`>` and list markers) plus the list levels its
// indentation can reach (one per 2 columns, at most one per level open on the line before).
export function blockNesting (source: string): number {
  let max = 0
  let previous = 0
  for (const line of source.split('\n')) {
    let markers = 0
    let indent = 0
    let i = 0
    for (;;) {
      const ws = whitespace(line, i)
      // The one space that follows a marker belongs to it; more is indentation.
      indent += markers === 0 ? ws.columns : Math.max(0, ws.columns - 1)
      i = ws.end
      if (i >= line.length) break
      if (line.charCodeAt(i) === GT) {
        markers++
        i++
        continue
      }
      const end = listMarkerEnd(line, i)
      if (end < 0) break
      markers++
      i = end
    }
    if (i >= line.length && markers === 0) continue // blank: lists stay open across it
    const depth = markers + Math.min(Math.floor(indent / 2), previous)
    if (depth > max) max = depth
    previous = depth
  }
  return max
}

const isDelimiter = (c: string): boolean => c === '*' || c === '_' || c === '~'
const isSpace = (c: string | undefined): boolean => c === undefined || /\s/.test(c)
const isPunctuation = (c: string | undefined): boolean => c !== undefined && /[\p{P}\p{S}]/u.test(c)

// Inline nesting: emphasis and strikethrough delimiter runs matched like CommonMark's flanking
// rules (every kind together), counting a matched run's characters as levels. Unmatched openers
// nest nothing, as in marked. Paragraphs (split by blank lines) are measured apart.
export function inlineNesting (source: string): number {
  let max = 0
  // Open runs: characters left to close, and the deepest nesting already closed inside each.
  let stack: Array<{ open: number, inner: number }> = []
  let blank = true
  for (let i = 0; i < source.length;) {
    const c = source[i]
    if (c === '\n') {
      if (blank) stack = []
      blank = true
      i++
      continue
    }
    if (!isSpace(c)) blank = false
    if (!isDelimiter(c)) { i++; continue }
    let j = i
    while (j < source.length && isDelimiter(source[j])) j++
    const before = source[i - 1]
    const after = source[j]
    const leftFlanking = !isSpace(after) && (!isPunctuation(after) || isSpace(before) || isPunctuation(before))
    const rightFlanking = !isSpace(before) && (!isPunctuation(before) || isSpace(after) || isPunctuation(after))
    let run = j - i
    if (rightFlanking) {
      // Closes the innermost open runs first; what it encloses nests one level per character.
      while (run > 0 && stack.length > 0) {
        const top = stack[stack.length - 1]
        const used = Math.min(run, top.open)
        const depth = top.inner + used
        if (depth > max) max = depth
        run -= used
        top.open -= used
        top.inner = depth
        if (top.open === 0) {
          stack.pop()
          if (stack.length > 0) stack[stack.length - 1].inner = Math.max(stack[stack.length - 1].inner, depth)
        }
      }
    }
    if (leftFlanking && run > 0) stack.push({ open: run, inner: 0 })
    i = j
  }
  return max
}

// The deeper of the two.
export function markdownNesting (raw: string): number {
  const source = raw.replace(/\r\n?/g, '\n')
  return Math.max(blockNesting(source), inlineNesting(source))
}
