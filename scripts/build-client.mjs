// Builds the web client: services/api/public/src/main.ts -> services/api/public/dist/app.js.
// `node scripts/build-client.mjs` once (npm's postinstall), or with `--watch` while editing.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// esbuild comes with tsx, a dependency; no download happens here.
const esbuild = createRequire(import.meta.url)('esbuild')

const publicDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'services', 'api', 'public')

export const buildOptions = {
  entryPoints: [join(publicDir, 'src', 'main.ts')],
  outfile: join(publicDir, 'dist', 'app.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2022', 'chrome100', 'firefox100', 'safari15.4'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
}

// Each file is written aside and renamed into place: a server reading it meanwhile (another test
// process building too) gets the old file or the new one, never a half-written one.
export async function buildClient () {
  const { outputFiles } = await esbuild.build({ ...buildOptions, write: false })
  mkdirSync(join(publicDir, 'dist'), { recursive: true })
  for (const file of outputFiles) {
    const aside = `${file.path}.${process.pid}.tmp`
    writeFileSync(aside, file.contents)
    renameSync(aside, file.path)
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--watch')) {
    const context = await esbuild.context({ ...buildOptions, logLevel: 'info' })
    await context.watch()
  } else {
    await buildClient()
    console.log(`web client built: ${buildOptions.outfile}`)
  }
}
