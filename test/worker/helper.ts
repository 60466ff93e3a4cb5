import type { Test } from 'tap'
import pg from 'pg'
import { buildWorker, type Worker, type WorkerOptions } from '../../services/worker/app'
import { testEnv } from '../helper'
import type { ConfigInput } from '../../plugins/config'

// A started worker on this test file's database, stopped when the test ends.
export async function buildTestWorker (t: Test, overrides: ConfigInput = {}, options: Omit<WorkerOptions, 'env'> = {}): Promise<Worker> {
  const worker = buildWorker({ ...options, env: await testEnv(t, overrides) })
  t.teardown(() => worker.close())
  await worker.start()
  return worker
}

// Makes the database refuse to store a message with this source, every time (a poisoned post).
export async function refuseMessage (pool: pg.Pool, source: string, error = 'refused'): Promise<void> {
  await pool.query(`CREATE FUNCTION refuse_message() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.source = ${pg.escapeLiteral(source)} THEN RAISE EXCEPTION ${pg.escapeLiteral(error)}; END IF; RETURN NEW; END $$`)
  await pool.query('CREATE TRIGGER refuse_message BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_message()')
}
