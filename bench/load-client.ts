// Drives bench/push-client.ts, the socket load client in its own process, one command at a time over IPC.
import type { Command } from './push-client'
import { launch, message, sleep, stop, tsx, type Launched } from './launch'

export class LoadClient {
  private constructor (private readonly proc: Launched) {}
  get pid (): number { return this.proc.pid }

  // databaseUrl: where the client publishes the events it times (the product's fan-out).
  static async start (databaseUrl: string): Promise<LoadClient> {
    const proc = launch('load client', [...tsx('bench/push-client.ts'), databaseUrl], process.env, true)
    await message(proc)
    return new LoadClient(proc)
  }

  async run<T> (command: Command): Promise<T> {
    this.proc.child.send(command)
    const reply = await message<{ ok: boolean, result: T, error?: string }>(this.proc)
    if (!reply.ok) throw new Error(`load client: ${reply.error}`)
    return reply.result
  }

  async stop (): Promise<void> {
    if (this.proc.child.exitCode !== null) return
    this.proc.child.send({ cmd: 'exit' })
    await Promise.race([new Promise((resolve) => this.proc.child.once('exit', resolve)), sleep(5000)])
    await stop(this.proc, 1000)
  }
}
