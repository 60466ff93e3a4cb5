// TypeBox, imported through this one module: the production build replaces its output with a
// single bundled file, since loading TypeBox's 700 ES modules one by one costs each process 5 to 10 MiB.
export { Type, type Static, type TSchema, type TUnsafe } from 'typebox'
export { Compile } from 'typebox/compile'
