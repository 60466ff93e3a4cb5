// `.env` is read when present, the environment wins over it, and a bad value in it is refused by name.
import t from 'tap'
import fc from 'fast-check'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { loadEnvFile } from '../../lib/env-file'
import { loadConfig } from '../../plugins/config'
import { killLeftovers, root, run, tempDir } from './processes'

const SETTINGS = ['API_PORT', 'PUSH_PORT', 'TOKEN_TTL_SECONDS', 'OFFLINE_AFTER_SECONDS', 'MESSAGE_MAX_LENGTH', 'WORKER_CONCURRENCY'] as const
const BASE = { DATABASE_URL: 'postgresql://x@127.0.0.1/x', JWT_SECRET: 'a'.repeat(32) }

// Per setting: set in the environment or not, in .env or not (plain or quoted), with values that tell them apart.
const placement = fc.record({
  inEnv: fc.boolean(),
  inFile: fc.boolean(),
  quoted: fc.boolean(),
  envValue: fc.integer({ min: 100, max: 149 }),
  fileValue: fc.integer({ min: 150, max: 199 }),
})

t.test('each setting comes from the environment when set there, else from .env, else its default', async (t) => {
  const dir = tempDir('flack-dotenv-')
  // process.env itself (loadEnvFile writes there), restored afterwards.
  const saved = Object.fromEntries(SETTINGS.map((name) => [name, process.env[name]]))
  t.teardown(() => { for (const name of SETTINGS) if (saved[name] === undefined) delete process.env[name]; else process.env[name] = saved[name] })
  const defaults = loadConfig(BASE) as unknown as Record<string, number>
  let i = 0
  fc.assert(fc.property(fc.tuple(...SETTINGS.map(() => placement)), (placements) => {
    const file = join(dir, `${i++}.env`)
    const lines: string[] = ['# a comment']
    const expected: Record<string, number | undefined> = {}
    SETTINGS.forEach((name, n) => {
      const { inEnv, inFile, quoted, envValue, fileValue } = placements[n]
      if (inEnv) process.env[name] = String(envValue)
      else delete process.env[name]
      if (inFile) lines.push(quoted ? `${name}="${fileValue}" # quoted` : `${name}=${fileValue}`)
      expected[name] = inEnv ? envValue : inFile ? fileValue : undefined
    })
    writeFileSync(file, lines.join('\n'))
    loadEnvFile(file)
    const config = loadConfig({ ...process.env, ...BASE }) as unknown as Record<string, number>
    const wrong = SETTINGS.filter((name) => config[name] !== (expected[name] ?? defaults[name]))
    if (wrong.length > 0) throw new Error(`${wrong.join(', ')} from the wrong place (${lines.join(' | ')})`)
  }), { numRuns: 200 })
  t.pass('200 cases')
})

t.test('no .env: nothing changes', async (t) => {
  const before = { ...process.env }
  loadEnvFile(join(tempDir('flack-no-dotenv-'), '.env'))
  t.same(process.env, before)
})

// Run in a folder whose .env holds a bad value (a .env is read from the working folder); the three at once.
t.test('a bad value in .env stops a service, and npm run migrate, naming the variable', async (t) => {
  killLeftovers(t)
  const tsx = pathToFileURL(require.resolve('tsx')).href
  await Promise.all([
    ['services/api/server.ts', 'API_PORT=not-a-port', 'API_PORT'],
    ['services/push/server.ts', 'LOG_LEVEL=loud', 'LOG_LEVEL'],
    ['scripts/migrate.ts', 'EMBEDDED_POSTGRES_PORT=99999', 'EMBEDDED_POSTGRES_PORT'],
  ].map(async ([script, line, name]) => {
    const dir = tempDir('flack-bad-dotenv-')
    writeFileSync(join(dir, '.env'), `# from a user\n${line}\n`)
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dir }
    delete env.DATABASE_URL
    delete env[name]
    const child = run(process.execPath, ['--import', tsx, join(root, script)], env, dir)
    const { code } = await child.exit
    t.equal(code, 1, `${script} refuses to start`)
    t.match(child.output(), name, `and names ${name}`)
  }))
})
