import type pg from 'pg';
import { itemRange } from './schema.ts';

/**
 * Chunked deletion of a batch's rows, `chunk` rows per table per call; returns true while more remains so callers
 * can come back (the sweeper's next pass, or a loop that yields).
 * - `deleted`: payloads, results and items, then the batch row itself once no items remain.
 * - `archived`: payloads and results only; the batch and its items stay, so the batch is still listed.
 */
export async function purgePgBatch(
  db: pg.Pool | pg.PoolClient,
  seq: number,
  chunk: number,
  mode: 'deleted' | 'archived',
): Promise<boolean> {
  const [lo, hi] = itemRange(seq);
  const tables = mode === 'deleted' ? ['payloads', 'results', 'items'] : ['payloads', 'results'];
  let more = false;
  for (const table of tables) {
    const key = table === 'items' ? 'id' : 'item_id';
    const { rowCount } = await db.query(
      `DELETE FROM ${table} WHERE ${key} IN
         (SELECT ${key} FROM ${table} WHERE ${key} >= $1 AND ${key} < $2 ORDER BY ${key} LIMIT $3)`,
      [lo, hi, chunk],
    );
    if ((rowCount ?? 0) >= chunk) more = true;
  }
  if (!more && mode === 'deleted') await db.query('DELETE FROM batches WHERE seq = $1', [seq]);
  return more;
}
