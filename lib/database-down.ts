// Connection failures: the database is down, starting, restarting or gone silent (a query that
// hit pg's query_timeout); worth a retry, a 503 not a bug.
export function isDatabaseDown (err: unknown): boolean {
  const text = `${(err as { code?: string }).code ?? ''} ${err instanceof Error ? err.message : String(err)}`
  return /ECONNREFUSED|ECONNRESET|57P01|57P03|timeout exceeded when trying to connect|Query read timeout|Connection terminated|Can't reach database|DatabaseNotReachable/i.test(text)
}
