import t from 'tap'
import fc from 'fast-check'
import { renderMessage } from '../../services/worker/render'
import { MAX_MARKDOWN_NESTING, markdownNesting } from '../../lib/markdown-nesting'
import { validateMessageSource } from '../../lib/tasks'
import { HttpError } from '../../plugins/errors'

const MAX_LENGTH = 4000

// Either refused with a 400 in the one error form, or returned unchanged.
function verdict (source: string): 'accepted' | 'refused' {
  try {
    if (validateMessageSource(source, MAX_LENGTH) !== source) throw new Error('source changed')
    return 'accepted'
  } catch (err) {
    if (!(err instanceof HttpError) || err.statusCode !== 400 || !err.message.startsWith('Invalid request: ')) throw err
    return 'refused'
  }
}

// The sources of issue 12, and the same shapes at other depths.
const DEEP = {
  'quotes (3,999 > then a)': '>'.repeat(3999) + 'a',
  'quotes (2,000 >)': '>'.repeat(2000),
  'quotes with spaces': '> '.repeat(1500) + 'a',
  'dash lists (1,999 "- ")': '- '.repeat(1999),
  'dash lists then text': '- '.repeat(1999) + 'a',
  'plus lists': '+ '.repeat(1999) + 'a',
  'star lists': '* '.repeat(1999) + 'a',
  'ordered lists': '1. '.repeat(1333) + 'a',
  'ordered lists with )': '1) '.repeat(1333) + 'a',
  'quotes and lists mixed': '> - '.repeat(1000),
  'emphasis runs': '*'.repeat(1999) + 'a' + '*'.repeat(1999),
  'underscore runs': '_'.repeat(1999) + 'a' + '_'.repeat(1999),
  'nested strong': '**a '.repeat(450) + 'b' + ' c**'.repeat(450),
  'nested strikethrough': '~~a '.repeat(450) + 'b' + ' a~~'.repeat(450),
}

t.test('the deep sources of issue 12 are refused with a 400 before anything is queued', async (t) => {
  for (const [name, source] of Object.entries(DEEP)) {
    t.ok(source.length <= MAX_LENGTH, `${name} fits the length limit`)
    t.equal(verdict(source), 'refused', name)
  }
})

t.test('ordinary Markdown is accepted', async (t) => {
  const fine = ['hello *world*!', '> quote\n> > nested\n\n- a\n  - b\n    - c', '**bold** _it_ ~~del~~ `code`', 'snake_case_name 2 * 3 * 4',
    '- - -', '***', '1. one\n2. two\n   1. sub', '```\n' + '    deep\n'.repeat(40) + '```', '| a | b |\n|---|---|\n' + '| 1 | 2 |\n'.repeat(300),
    'x'.repeat(4000), '*a *b *c* d* e*', '> '.repeat(MAX_MARKDOWN_NESTING) + 'a']
  for (const source of fine) t.equal(verdict(source), 'accepted', JSON.stringify(source.slice(0, 40)))
})

// Hostile sources: runs of every construct that nests, at random depths, mixed, with text between.
const piece = fc.oneof(
  fc.constantFrom('>', '> ', '- ', '* ', '+ ', '1. ', '2) ', '*', '**', '_', '__', '~~', '[', ']', '(', ')', '`', '|', '<b>', '\n', '\n\n', '  ', '\t', 'a', 'b c', 'x.com'),
  fc.tuple(fc.constantFrom('>', '> ', '- ', '* ', '1. ', '*', '_', '~', '**a ', ' a**', '> - ', '[a', '](x)', '  '), fc.integer({ min: 1, max: 1500 }))
    .map(([unit, n]) => unit.repeat(n)),
)
const source = fc.array(piece, { minLength: 1, maxLength: 30 }).map((parts) => parts.join('').slice(0, MAX_LENGTH))

t.test('rule: whatever the api accepts, the renderer renders (no stack overflow, no throw)', async (t) => {
  let refused = 0
  let accepted = 0
  fc.assert(fc.property(source, (text) => {
    if (text.trim() === '' || verdict(text) === 'refused') {
      refused++
      return
    }
    accepted++
    renderMessage(text)
  }), { numRuns: 400, seed: 12 })
  t.ok(refused > 20 && accepted > 20, `both kinds generated (${accepted} accepted, ${refused} refused)`)
})

t.test('rule: the measure is at least the depth that breaks marked, for every nesting kind', async (t) => {
  // Any source the renderer cannot handle measures deeper than the limit.
  const shapes = Object.values(DEEP)
  for (const deep of shapes) {
    let threw = false
    try { renderMessage(deep) } catch { threw = true }
    if (threw) t.ok(markdownNesting(deep) > MAX_MARKDOWN_NESTING, `${JSON.stringify(deep.slice(0, 12))}... breaks marked and measures over the limit`)
  }
})

t.test('the measure takes linear time: a 100 times longer source takes far less than 10,000 times longer', async (t) => {
  const time = (text: string): number => {
    const start = process.hrtime.bigint()
    for (let i = 0; i < 5; i++) markdownNesting(text)
    return Number(process.hrtime.bigint() - start)
  }
  const unit = '> - **a _b ~~c '
  time(unit.repeat(1000)) // warm-up
  const small = time(unit.repeat(1000))
  const large = time(unit.repeat(100_000))
  t.ok(large < small * 1000, `x100 input: x${(large / small).toFixed(0)} time`)
})
