import type { Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'

import { join, resolve } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'

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

export async function screenshot (page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  const path = join(SCREENSHOTS, `${name}.png`)
  await page.screenshot({ path })
  return path
}

