import type { Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'

import { join, resolve } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { buildApi } from '../../services/api/app'
import { buildPush } from '../../services/push/app'
import { startWorker } from '../../services/worker/server'
import type { ConfigInput } from '../../plugins/config'
import { testEnv } from '../helper'
import { freePort } from '../support/net'

type TestContext = Test

export const ROOT = resolve(__dirname, '..', '..')
export const SCREENSHOTS = join(ROOT, 'test-output')

let built = false

// Builds the web client bundle (what npm's postinstall does), once per test file.
export function buildClient (): void {
  if (built) return
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-client.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] })
  built = true
}

// Debian's chromium, headless; nothing is downloaded.
export async function launchBrowser (t: TestContext): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  })
  t.teardown(() => browser.close())
  return browser
}

// A context whose page errors fail the test: a broken page should never pass quietly.
export async function openPage (t: TestContext, browser: Browser, url: string, viewport = { width: 1100, height: 720 }): Promise<{ context: BrowserContext, page: Page }> {
  const context = await browser.newContext({ viewport, colorScheme: 'light' })
  t.teardown(() => context.close())
  const page = await context.newPage()
  page.on('pageerror', (err) => t.fail(`page error: ${err.message}`))
  // Console errors (a refused socket, a failed request) help explain a timeout.
  page.on('console', (message) => { if (message.type() === 'error') t.comment(`page console: ${message.text()}`) })
  page.on('dialog', (dialog) => {
    t.fail(`unexpected dialog: ${dialog.message()}`)
    dialog.dismiss().catch(() => {})
  })
  await page.goto(url)
  return { context, page }
}

// Signs in through the page's one form (registering an unknown nickname).
export async function signIn (page: Page, nickname: string, password: string): Promise<void> {
  await page.fill('#nickname', nickname)
  await page.fill('#password', password)
  await page.press('#password', 'Enter')
}

export const DOCS_SCREENSHOTS = join(ROOT, 'docs', 'screenshots')

// Into test-output/; with UPDATE_SCREENSHOTS=1 also docs/screenshots/<docsName>.png, the README's pictures.
export async function screenshot (page: Page, name: string, docsName?: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  const path = join(SCREENSHOTS, `${name}.png`)
  await page.screenshot({ path })
  if (docsName !== undefined && process.env.UPDATE_SCREENSHOTS === '1') {
    mkdirSync(DOCS_SCREENSHOTS, { recursive: true })
    copyFileSync(path, join(DOCS_SCREENSHOTS, `${docsName}.png`))
  }
  return path
}


export interface System {
  origin: string
  env: ConfigInput
  api: FastifyInstance
  // Stops the push service (every socket drops) and starts it again on the same port.
  stopPush: () => Promise<void>
  startPush: () => Promise<void>
}

// All three services, in-process, on this test's database. The page's origin must be known
// to the push service before it listens, hence the api's port is picked up front.
export async function startSystem (t: TestContext, overrides: ConfigInput = {}, beforeListen?: (api: FastifyInstance) => void): Promise<System> {
  const apiPort = await freePort()
  const origin = `http://127.0.0.1:${apiPort}`
  const env = await testEnv(t, { PUSH_ALLOWED_ORIGINS: origin, HOST: '127.0.0.1', ...overrides })
  let push: FastifyInstance | null = null
  let pushPort = 0
  const startPush = async (): Promise<void> => {
    const instance = await buildPush({ env })
    await instance.listen({ port: pushPort, host: '127.0.0.1' })
    pushPort = (instance.server.address() as AddressInfo).port
    push = instance
  }
  const stopPush = async (): Promise<void> => {
    const instance = push
    push = null
    await instance?.close()
  }
  t.teardown(stopPush)
  await startPush()
  const worker = await startWorker(env)
  t.teardown(() => worker.close())
  const api = await buildApi({ env: { ...env, PUSH_PUBLIC_URL: `ws://127.0.0.1:${pushPort}/ws` } })
  t.teardown(() => api.close())
  beforeListen?.(api)
  await api.listen({ port: apiPort, host: '127.0.0.1' })
  return { origin, env, api, stopPush, startPush }
}

// A token through the API itself, for setting the scene faster than clicking.
export async function tokenFor (origin: string, nickname: string, password: string): Promise<string> {
  const authorization = `Basic ${Buffer.from(`${nickname}:${password}`).toString('base64')}`
  const res = await fetch(`${origin}/api/tokens`, { method: 'POST', headers: { authorization } })
  if (res.status !== 200) throw new Error(`sign-in of ${nickname}: ${res.status}`)
  return ((await res.json()) as { token: string }).token
}

// Runs axe-core (its source injected into the page) and returns the serious or critical violations.
export async function seriousViolations (page: Page): Promise<string[]> {
  await page.evaluate(readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'))
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (context: Document, options: object) => Promise<{ violations: Array<{ id: string, impact: string | null, help: string, nodes: Array<{ target: unknown[] }> }> }> } }).axe
    const result = await axe.run(document, { resultTypes: ['violations'] })
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => JSON.stringify(n.target)) }))
  })
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.targets.join(', ')}`)
}
