import { defineConfig } from 'prisma/config'

// The url is only needed by CLI commands that talk to a database (not `generate`).
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost/flack' },
})
