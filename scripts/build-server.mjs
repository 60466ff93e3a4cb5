// Compiles the server (lib, plugins, services, scripts, the generated Prisma client) to dist/ with
// tsc, for the Procfile's production processes. A clean build, so no output of a deleted file lingers.
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
rmSync(join(root, 'dist'), { recursive: true, force: true })
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root })
if (result.status === 0) console.log('server built: dist/')
process.exit(result.status ?? 1)
