import type pg from 'pg';
import { checkout } from './checkout.ts';

/** Deadlock and serialization failures: the transaction did nothing and may simply run again. */
const RETRYABLE = new Set(['40P01', '40001']);

/**
 * Runs `fn` in one transaction on one pooled connection, retried a few times on a deadlock. A connection that saw an
 * error is discarded rather than returned to the pool: after a server restart it would fail the next user too.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (c: pg.PoolClient) => Promise<T>,
  opts: { durable?: boolean } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const c = await checkout(pool);
    try {
      // Not durable: the commit does not wait for its WAL to reach the disk (staging; a later synchronous commit
      // flushes it anyway). One round trip either way.
      await c.query(opts.durable === false ? 'BEGIN; SET LOCAL synchronous_commit = off' : 'BEGIN');
      const r = await fn(c);
      await c.query('COMMIT');
      c.release();
      return r;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      c.release(err instanceof Error ? err : true);
      const code = (err as { code?: string }).code;
      if (attempt >= 3 || !code || !RETRYABLE.has(code)) throw err;
    }
  }
}

/**
 * One statement, run again (up to three times) when PostgreSQL picked it as a deadlock victim. Statements that lock
 * rows another transaction may lock in another order (retries and completions against the sweeper's expiry) can
 * meet in a cycle now and then; the victim did nothing and is safe to repeat.
 */
export async function queryRetrying<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  text: string,
  values: unknown[],
): Promise<pg.QueryResult<R>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await pool.query<R>(text, values);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt >= 3 || !code || !RETRYABLE.has(code)) throw err;
    }
  }
}
