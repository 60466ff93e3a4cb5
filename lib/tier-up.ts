import { setFlagsFromString } from 'node:v8'

// V8's own tier-up thresholds in Node 24; test/ops/tier-up.test.ts checks them against `node --v8-options`.
export const V8_TIER_UP_DEFAULTS: Readonly<Record<string, number>> = {
  'invocation-count-for-maglev': 400,
  'invocation-count-for-turbofan': 3000,
}

// The Procfile raises these thresholds: startup code (module loading, schema compilation) runs once,
// yet V8 compiled some 250 of its functions with Maglev and Turbofan, whose code and compilers then
// stayed in memory (5 to 10 MiB per process at rest). Once the service is ready, the thresholds
// the process was started with go back to V8's own, so the code that serves requests is compiled as usual.
export function restoreTierUp (execArgv: readonly string[] = process.execArgv): string[] {
  const raised = Object.keys(V8_TIER_UP_DEFAULTS).filter((flag) => execArgv.some((arg) => arg.startsWith(`--${flag}=`)))
  for (const flag of raised) setFlagsFromString(`--${flag}=${V8_TIER_UP_DEFAULTS[flag]}`)
  return raised
}
