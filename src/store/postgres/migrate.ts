import type pg from 'pg';
import { checkout } from './checkout.ts';
import { checkSchemaName } from './open-pool.ts';
import { PG_MIGRATIONS } from './schema.ts';

/** Any fixed number: the advisory lock that makes concurrent starts apply each migration once. */
const MIGRATION_LOCK = 0x62617267; // "barg"

/**
 * Applies pending migrations, each in its own transaction, under a session advisory lock so that many processes
 * starting at once (a fleet rollout) apply each exactly once. Returns how many it applied.
 */
export async function migratePg(pool: pg.Pool, schema?: string): Promise<number> {
  const client = await checkout(pool);
  try {
    if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${checkSchemaName(schema)}`);
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS barge_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      const { rows } = await client.query<{ v: number | null }>(
        'SELECT max(version) AS v FROM barge_migrations',
      );
      let applied = 0;
      for (let v = rows[0]?.v ?? 0; v < PG_MIGRATIONS.length; v++) {
        await client.query('BEGIN');
        try {
          await client.query(PG_MIGRATIONS[v]!);
          await client.query('INSERT INTO barge_migrations (version) VALUES ($1)', [v + 1]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
        applied++;
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}
