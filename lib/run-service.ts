import closeWithGrace from 'close-with-grace'

export interface Closeable { close: () => Promise<unknown> }

// Owns the process for a service run on its own: start it, close it cleanly on SIGINT/SIGTERM.
export function runService (name: string, start: () => Promise<Closeable>): void {
  start().then((service) => {
    closeWithGrace({ delay: 10000 }, async ({ err, signal }) => {
      if (err !== undefined) console.error(`${name}: ${err.message}`)
      else if (signal !== undefined) console.error(`${name}: ${signal}, shutting down`)
      await service.close()
    })
  }, (err) => {
    console.error(`${name} failed to start: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(1)
  })
}
