import pg from 'pg'

// The one handle the query modules take: the process's pool, or a client inside a transaction.
export type Db = pg.Pool | pg.PoolClient

// PostgreSQL's codes for the errors callers turn into answers.
export const UNIQUE_VIOLATION = '23505'
export const FOREIGN_KEY_VIOLATION = '23503'
export const hasCode = (err: unknown, code: string): boolean => (err as { code?: string } | null)?.code === code

// Runs work in a transaction: its own on a pool; on a client (already in a transaction, or
// PostgreSQL refuses the savepoint) a savepoint, so a failure undoes only this work.
export async function inTransaction<T> (db: Db, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  if (!(db instanceof pg.Pool)) {
    await db.query('SAVEPOINT in_transaction')
    try {
      const result = await work(db)
      await db.query('RELEASE SAVEPOINT in_transaction')
      return result
    } catch (err) {
      await db.query('ROLLBACK TO SAVEPOINT in_transaction').catch(() => {})
      throw err
    }
  }
  const client = await db.connect()
  let broken: Error | undefined
  try {
    await client.query('BEGIN')
    const result = await work(client)
    await client.query('COMMIT')
    return result
  } catch (err) {
    // A connection that cannot even roll back is dropped, not handed to the next caller.
    await client.query('ROLLBACK').catch((rollbackError: Error) => { broken = rollbackError })
    throw err
  } finally {
    client.release(broken)
  }
}
