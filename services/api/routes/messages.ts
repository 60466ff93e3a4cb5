import type { FastifyInstance } from 'fastify'

// Messages routes (issue 3): filled in by the worker work.
export default async function messages (_fastify: FastifyInstance): Promise<void> {}
