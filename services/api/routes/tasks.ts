import type { FastifyInstance } from 'fastify'

// Task status routes (issue 3): filled in by the worker work.
export default async function tasks (_fastify: FastifyInstance): Promise<void> {}
