import type { FastifyInstance } from 'fastify'

// The web client (issue 5): static page and assets.
export default async function web (_fastify: FastifyInstance): Promise<void> {}
