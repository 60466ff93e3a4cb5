// The one latency summary every section prints.
export interface Summary { n: number, p50: number, p99: number, max: number }

// Nearest-rank percentile of values in any order.
export function percentile (values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return NaN
  const sorted = Float64Array.from(values).sort()
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

export function summarize (values: ArrayLike<number>): Summary {
  return { n: values.length, p50: percentile(values, 50), p99: percentile(values, 99), max: percentile(values, 100) }
}

export const ms = (n: number): string => (Number.isNaN(n) ? 'n/a' : `${n.toFixed(1)} ms`)
export const pair = (s: Summary): string => `${ms(s.p50)} / ${ms(s.p99)}`
export const perSecond = (n: number): string => `${Math.round(n).toLocaleString('en-US')}/s`
export const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`
