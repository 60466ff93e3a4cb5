// What a failure says to the person using the page.
import { ApiError } from './api'
import { humanError } from './state'

export const UNREACHABLE = 'The server cannot be reached. Check your connection.'
export const NO_LONGER_MEMBER = 'You are no longer a member of that room.'

export function errorText (err: unknown): string {
  if (err instanceof ApiError && err.status === 429) return 'Too many tries. Wait a little and try again.'
  if (err instanceof ApiError && err.status >= 500) return 'The server had a problem. Try again in a moment.'
  return humanError(err instanceof Error ? err.message : String(err))
}

// Failures that a live socket proves over: the banner goes when the connection is back.
export const isConnectionError = (err: unknown): boolean => err instanceof ApiError && (err.status === 0 || err.status >= 500)
