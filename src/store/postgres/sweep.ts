import type pg from 'pg';
import { ItemState } from '../../domain/batch-status.ts';
import type { BatchId } from '../../domain/ids.ts';
import { canceledLine, expiredLine } from '../../wire/result-line.ts';
import { WORKER_ROW_TTL_MS } from '../rows.ts';
import { emptySweepReport, type SweepOptions, type SweepReport } from '../store.ts';
import { checkout } from './checkout.ts';
import { purgePgBatch } from './purge-batch.ts';

/** An upload whose API process died mid-body stays `ingesting`; after this long its rows are purged. */
export const ABANDONED_UPLOAD_MS = 3_600_000;

/**
 * One sweeper pass on PostgreSQL, run by at most one process of the cluster at a time: the pass holds a session
 * advisory lock (keyed by the schema, so stores in different schemas do not exclude each other) on the connection
 * that does its work. Another process that tries meanwhile skips its pass; when the holder dies, its connection
 * closes, the lock goes with it, and the next pass anywhere takes over. Each step is its own short transaction over
 * at most `chunk` rows; `more` asks the caller to run again at once.
 */
export function pgSweep(pool: pg.Pool): (opts: SweepOptions) => Promise<SweepReport> {
  return async (opts) => {
    const c = await checkout(pool);
    let failed: Error | undefined;
    try {
      const { rows } = await c.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock(1650553447, hashtext(current_schema())) AS ok',
      );
      if (!rows[0]?.ok) return emptySweepReport();
      try {
        return await sweepSteps(c, opts);
      } finally {
        await c.query('SELECT pg_advisory_unlock(1650553447, hashtext(current_schema()))');
      }
    } catch (err) {
      failed = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      // A connection that failed mid-pass may still hold the lock; closing it releases the lock for sure.
      c.release(failed);
    }
  };
}

async function tx<T>(c: pg.PoolClient, fn: () => Promise<T>): Promise<T> {
  await c.query('BEGIN');
  try {
    const r = await fn();
    await c.query('COMMIT');
    return r;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

async function sweepSteps(c: pg.PoolClient, opts: SweepOptions): Promise<SweepReport> {
  const report = emptySweepReport();
  const { now, chunk } = opts;

  // 1. Rescue: a lapsed lease means its worker died (or lost its database); the item runs again.
  const rescued = await c.query(
    `UPDATE items SET state = 0, lease_owner = NULL, lease_expires_at = NULL
     WHERE id IN (SELECT id FROM items WHERE state = 1 AND lease_expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
    [now, chunk],
  );
  report.rescued = rescued.rowCount ?? 0;
  if (report.rescued === chunk) report.more = true;

  // Finishes up to `chunk` items of one batch as canceled or expired, with their result lines and counts.
  const finish = (seq: number, states: number[], kind: 'canceled' | 'expired') =>
    tx(c, async () => {
      await c.query('SELECT 1 FROM batches WHERE seq = $1 FOR NO KEY UPDATE', [seq]);
      const { rows } = await c.query<{ id: number; custom_id: string }>(
        'SELECT id, custom_id FROM items WHERE batch_seq = $1 AND state = ANY($2::smallint[]) ORDER BY id LIMIT $3 FOR UPDATE',
        [seq, states, chunk],
      );
      if (rows.length === 0) return 0;
      const line = kind === 'canceled' ? canceledLine : expiredLine;
      await c.query(
        `WITH f AS (SELECT * FROM unnest($1::bigint[], $2::text[]) AS f(id, line)),
         u AS (UPDATE items SET state = $3, lease_owner = NULL, lease_expires_at = NULL FROM f WHERE items.id = f.id),
         w AS (INSERT INTO results (item_id, line) SELECT id, line FROM f)
         UPDATE batches SET pending = pending - $4, ${kind} = ${kind} + $4 WHERE seq = $5`,
        [
          rows.map((r) => r.id),
          rows.map((r) => line(r.custom_id)),
          kind === 'canceled' ? ItemState.canceled : ItemState.expired,
          rows.length,
          seq,
        ],
      );
      return rows.length;
    });

  // 2. Expiry first: at expires_at, unsent and in-flight requests alike become `expired`.
  const { rows: expiring } = await c.query<{ seq: number; id: string }>(
    `SELECT seq, id FROM batches
     WHERE status IN ('in_progress', 'canceling') AND expires_at <= $1 AND deleted_at IS NULL`,
    [now],
  );
  for (const b of expiring) {
    const n = await finish(b.seq, [ItemState.queued, ItemState.running], 'expired');
    if (n) report.expiredBatches.push(b.id as BatchId);
    report.expired += n;
    if (n === chunk) report.more = true;
  }

  // 3. Cancellation: unsent requests of a canceling batch become `canceled`; in-flight ones may still finish.
  const { rows: canceling } = await c.query<{ seq: number }>(
    `SELECT seq FROM batches WHERE status = 'canceling' AND deleted_at IS NULL`,
  );
  for (const b of canceling) {
    const n = await finish(b.seq, [ItemState.queued], 'canceled');
    report.canceled += n;
    if (n === chunk) report.more = true;
  }

  // 4. Finalisation of any batch left with nothing pending.
  const { rows: ended } = await c.query<{ id: string }>(
    `UPDATE batches SET status = 'ended', ended_at = $1
     WHERE status IN ('in_progress', 'canceling') AND pending = 0 AND deleted_at IS NULL RETURNING id`,
    [now],
  );
  report.ended = ended.map((r) => r.id as BatchId);

  // 5. Archival at created_at + retention: the batch stays visible, its payloads and results go.
  const { rows: archived } = await c.query<{ id: string }>(
    `UPDATE batches SET archived_at = $1
     WHERE status = 'ended' AND archived_at IS NULL AND deleted_at IS NULL AND created_at <= $2 RETURNING id`,
    [now, now - opts.retentionMs],
  );
  report.archived = archived.map((r) => r.id as BatchId);
  const { rows: toPurge } = await c.query<{ seq: number }>(
    'SELECT seq FROM batches WHERE archived_at IS NOT NULL AND purged_at IS NULL AND deleted_at IS NULL LIMIT 8',
  );
  for (const b of toPurge) {
    if (await purgePgBatch(c, b.seq, chunk, 'archived')) report.more = true;
    else await c.query('UPDATE batches SET purged_at = $1 WHERE seq = $2', [now, b.seq]);
  }

  // 6. Deleted batches, and uploads abandoned by a dead API process, are purged in chunks.
  const { rows: gone } = await c.query<{ seq: number }>(
    `SELECT seq FROM batches WHERE deleted_at IS NOT NULL OR (status = 'ingesting' AND created_at <= $1) LIMIT 8`,
    [now - ABANDONED_UPLOAD_MS],
  );
  for (const b of gone) {
    if (await purgePgBatch(c, b.seq, chunk, 'deleted')) report.more = true;
    report.purged++;
  }

  // 7. Workers not heard from for a day leave the overview.
  await c.query('DELETE FROM workers WHERE seen_at < $1', [now - WORKER_ROW_TTL_MS]);
  return report;
}
