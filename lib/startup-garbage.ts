// Startup (module loading, schema compilation) leaves 5 to 9 MiB of garbage in each process, and an
// idle process never collects it: V8 runs no full collection until the heap grows, so a service at
// rest kept it for good. The Procfile starts processes with --expose-gc for this one call, made once
// the service is ready: a memory-reducing collection (30 to 40 ms) that compacts the heap and gives
// its free pages back. Without the flag (npm start, the tests' own apps) it does nothing.
export function releaseStartupGarbage (): boolean {
  if (typeof globalThis.gc !== 'function') return false
  globalThis.gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })
  return true
}
