import type pg from 'pg'

// Session advisory locks: held by one connection until released (or the connection ends).

export async function tryAdvisoryLock (client: pg.PoolClient, key: number): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [key])
  return rows[0].locked
}

export async function advisoryUnlock (client: pg.PoolClient, key: number): Promise<void> {
  await client.query('SELECT pg_advisory_unlock($1)', [key])
}
