// The one table printer: rows as a Markdown table (pasteable into a closing note), every column
// any row has, in first-seen order.
export type Row = Record<string, string | number>

export function printTable (rows: Row[]): void {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))]
  const cell = (value: string | number | undefined): string => (value === undefined ? '' : String(value).replace(/\|/g, '\\|'))
  const lines = [columns, columns.map(() => '---'), ...rows.map((row) => columns.map((c) => cell(row[c])))]
  console.log(lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n'))
}

// A product figure beside its baseline: their ratio and whether the goal holds.
export function beside (figure: string, product: number, baseline: number | null, show: (n: number) => string, goal = '', ok?: boolean): Row {
  return {
    figure,
    product: show(product),
    baseline: baseline === null ? '' : show(baseline),
    ratio: baseline === null || baseline === 0 ? '' : (product / baseline).toFixed(2),
    goal,
    ok: ok === undefined ? '' : ok ? 'yes' : 'NO',
  }
}
