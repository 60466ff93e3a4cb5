import fp from 'fastify-plugin'

// Requests per second over a sliding window of one-second buckets (this process).
export class RequestRate {
  private readonly buckets: Float64Array
  private readonly seconds: Float64Array

  constructor (private readonly windowSeconds: number) {
    this.buckets = new Float64Array(windowSeconds)
    this.seconds = new Float64Array(windowSeconds).fill(-1)
  }

  count (now = Date.now()): void {
    const second = Math.floor(now / 1000)
    const i = second % this.windowSeconds
    if (this.seconds[i] !== second) {
      this.seconds[i] = second
      this.buckets[i] = 0
    }
    this.buckets[i]++
  }

  perSecond (now = Date.now()): number {
    const oldest = Math.floor(now / 1000) - this.windowSeconds
    let total = 0
    for (let i = 0; i < this.windowSeconds; i++) if (this.seconds[i] > oldest) total += this.buckets[i]
    return total / this.windowSeconds
  }
}

declare module 'fastify' {
  interface FastifyInstance { requestRate: RequestRate }
}

export default fp(async (fastify) => {
  const rate = new RequestRate(fastify.config.REQUEST_STATS_WINDOW_SECONDS)
  fastify.decorate('requestRate', rate)
  fastify.addHook('onRequest', async () => { rate.count() })
}, { name: 'stats', dependencies: ['config'], fastify: '5.x' })
