// Sizes and choices from the command line: `npm run bench -- rooms --sockets=1000` reaches each
// section as BENCH_SOCKETS=1000 (bench/run.ts passes every `--name=value` on as BENCH_NAME).
export function option (name: string, fallback: number): number {
  const raw = process.env[envName(name)]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name}=${raw}: not a number`)
  return value
}

export function choice<T extends string> (name: string, allowed: readonly T[], fallback: T): T {
  const raw = process.env[envName(name)] ?? fallback
  if (!(allowed as readonly string[]).includes(raw)) throw new Error(`--${name}=${raw}: one of ${allowed.join(', ')}`)
  return raw as T
}

export const envName = (name: string): string => `BENCH_${name.toUpperCase().replace(/-/g, '_')}`
