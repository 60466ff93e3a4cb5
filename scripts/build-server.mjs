// Compiles the server (lib, plugins, services, scripts, the generated Prisma client) to dist/ with
// tsc, for the Procfile's production processes. A clean build, so no output of a deleted file lingers.
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)
rmSync(join(root, 'dist'), { recursive: true, force: true })
const result = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root })
if (result.status !== 0) process.exit(result.status ?? 1)

// lib/typebox.js becomes TypeBox in one file (esbuild comes with tsx, a dependency): the 700 ES
// modules it is made of, loaded one by one, cost each process 5 to 10 MiB of memory at rest.
await require('esbuild').build({
  entryPoints: [join(root, 'lib', 'typebox.ts')],
  outfile: join(root, 'dist', 'lib', 'typebox.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node24',
  logLevel: 'warning',
})
console.log('server built: dist/')
