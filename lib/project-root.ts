import { resolve } from 'node:path'

// True when running the build in dist/ (compiled .js), false under tsx (the .ts source).
export const COMPILED = __filename.endsWith('.js')

// The checkout's root from lib/ or dist/lib/: assets (migrations, the web client) are read from the source tree, never copied.
export const PROJECT_ROOT = resolve(__dirname, COMPILED ? '../..' : '..')
