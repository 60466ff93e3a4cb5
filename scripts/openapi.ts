// `npm run openapi`: writes the api's OpenAPI document to docs/openapi.json, from an app built
// with the default settings (no database is needed: nothing is queried).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildApi } from '../services/api/app'

export const OPENAPI_FILE = join(__dirname, '..', 'docs', 'openapi.json')

// The document as committed: two-space JSON with a final newline.
export const formatDocument = (document: unknown): string => `${JSON.stringify(document, null, 2)}\n`

async function main (): Promise<void> {
  const app = await buildApi({
    env: { DATABASE_URL: 'postgresql://openapi@127.0.0.1:1/unused', JWT_SECRET: 'only-used-to-build-the-openapi-document', LOG_LEVEL: 'silent' },
  })
  try {
    await app.ready()
    writeFileSync(OPENAPI_FILE, formatDocument(app.swagger()))
  } finally {
    await app.close()
  }
  console.log(`wrote ${OPENAPI_FILE}`)
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err)
    process.exit(1)
  })
}
