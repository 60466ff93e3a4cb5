import { setTimeout as sleep } from 'node:timers/promises'
import { migrate } from './migrations'
import { isDatabaseDown } from './database-down'

// Applies pending migrations (under the migration lock), waiting for a database that is still starting.
export async function migrateWhenReady (url: string, log: (line: string) => void, stopped: () => boolean, waitMs = 120_000): Promise<void> {
  const deadline = Date.now() + waitMs
  let said = false
  for (;;) {
    try {
      await migrate(url, log)
      return
    } catch (err) {
      if (!isDatabaseDown(err) || Date.now() > deadline || stopped()) throw err
      if (!said) log(`waiting for the database at ${new URL(url).host}`)
      said = true
      await sleep(250)
    }
  }
}
