// The top bar's connection and load figures, and the error banner.
import { ApiError, type Api } from './api'
import { errorText, isConnectionError } from './errors'
import type { ConnectionState } from './push'
import { ui } from './ui'

const STATS_EVERY_MS = 5000

let statsTimer: number | undefined
// The banner shows a lost connection: a live socket takes it away.
let bannerIsConnection = false

export function showConnection (state: ConnectionState, retryInSeconds?: number): void {
  ui.connection.dataset.state = state
  ui.connection.textContent = state === 'open'
    ? 'Live'
    : state === 'connecting' ? 'Connecting…' : `Offline · retrying in ${retryInSeconds ?? 1}s`
  if (state === 'open' && bannerIsConnection) hideBanner()
}

export function startStats (api: Api): void {
  stopStats()
  const refresh = (): void => {
    if (document.hidden) return
    api.requestsPerSecond().then((rate) => {
      ui.stats.textContent = `${rate.toFixed(rate < 10 ? 1 : 0)} req/s`
    }, () => {
      ui.stats.textContent = '– req/s'
    })
  }
  refresh()
  statsTimer = window.setInterval(refresh, STATS_EVERY_MS)
}

export function stopStats (): void {
  window.clearInterval(statsTimer)
  statsTimer = undefined
}

export function showBanner (err: unknown): void {
  // A 401 already sent the page back to the sign-in form.
  if (err instanceof ApiError && err.status === 401) return
  ui.banner.textContent = errorText(err)
  ui.banner.hidden = false
  bannerIsConnection = isConnectionError(err)
}

export function hideBanner (): void {
  ui.banner.hidden = true
  bannerIsConnection = false
}
