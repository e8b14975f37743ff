import type pg from 'pg';
import { ItemState } from '../../domain/batch-status.ts';
import type { BatchId } from '../../domain/ids.ts';
import type { Completion, Retry } from '../store.ts';
import { inTransaction } from './in-transaction.ts';

/**
 * Fenced completion of many results in one transaction. An item's final state and its result line are written only
 * if the item is still `running` under the same attempt: a completion from a worker whose lease was taken over
 * (rescued, expired, re-claimed) matches no row and is dropped, so no custom_id ever gets two results. The batch's
 * counts move in the same statement, and the batch ends there when its last request finishes.
 *
 * Lock order: every transaction that writes both batches and items locks the batch rows first, in seq order, so
 * two completers (or a completer and the sweeper's expiry) never deadlock.
 */
const COMPLETE_SQL = `
  WITH c AS (
    SELECT DISTINCT ON (id) * FROM unnest($1::bigint[], $2::int[], $3::smallint[], $4::text[]) AS c(id, attempt, state, line)
  ),
  fenced AS (
    UPDATE items i SET state = c.state, lease_owner = NULL, lease_expires_at = NULL
    FROM c WHERE i.id = c.id AND i.attempts = c.attempt AND i.state = 1
    RETURNING i.id, i.batch_seq, i.state
  ),
  written AS (INSERT INTO results (item_id, line) SELECT f.id, c.line FROM fenced f JOIN c ON c.id = f.id),
  d AS (
    SELECT batch_seq, count(*)::int AS n, (count(*) FILTER (WHERE state = ${ItemState.succeeded}))::int AS s
    FROM fenced GROUP BY batch_seq
  )
  UPDATE batches b SET
    pending = b.pending - d.n, succeeded = b.succeeded + d.s, errored = b.errored + d.n - d.s,
    status = CASE WHEN b.pending = d.n THEN 'ended' ELSE b.status END,
    ended_at = CASE WHEN b.pending = d.n THEN $5 ELSE b.ended_at END
  FROM d WHERE b.seq = d.batch_seq
  RETURNING b.id, b.status`;

export function pgCompleteItems(
  pool: pg.Pool,
): (completions: Completion[], now: number) => Promise<BatchId[]> {
  return (completions, now) =>
    inTransaction(pool, async (c) => {
      const seqs = [...new Set(completions.map((x) => x.batchSeq))].sort((a, b) => a - b);
      await c.query('SELECT 1 FROM batches WHERE seq = ANY($1::bigint[]) ORDER BY seq FOR NO KEY UPDATE', [
        seqs,
      ]);
      const { rows } = await c.query<{ id: string; status: string }>(COMPLETE_SQL, [
        completions.map((x) => x.itemId),
        completions.map((x) => x.attempt),
        completions.map((x) => (x.outcome === 'succeeded' ? ItemState.succeeded : ItemState.errored)),
        completions.map((x) => x.line),
        now,
      ]);
      return rows.filter((r) => r.status === 'ended').map((r) => r.id as BatchId);
    });
}

/**
 * Requeues items after transient failures, each to run again at its `runAt`, fenced by attempt. A retry that does
 * not count (a 429) gives the attempt back.
 */
export function pgRetryItems(pool: pg.Pool): (retries: Retry[]) => Promise<number> {
  return async (retries) => {
    const { rowCount } = await pool.query(
      `UPDATE items i SET state = 0, attempts = i.attempts - r.give, run_at = r.run_at, last_error = r.err,
         lease_owner = NULL, lease_expires_at = NULL
       FROM unnest($1::bigint[], $2::int[], $3::int[], $4::bigint[], $5::text[]) AS r(id, attempt, give, run_at, err)
       WHERE i.id = r.id AND i.attempts = r.attempt AND i.state = 1`,
      [
        retries.map((r) => r.itemId),
        retries.map((r) => r.attempt),
        retries.map((r) => (r.countAttempt ? 0 : 1)),
        retries.map((r) => r.runAt),
        retries.map((r) => r.error),
      ],
    );
    return rowCount ?? 0;
  };
}

/** Returns claimed-but-unstarted items to the queue, undoing the attempt count (graceful shutdown). */
export function pgReleaseItems(
  pool: pg.Pool,
): (items: Array<{ itemId: number; attempt: number }>) => Promise<void> {
  return async (items) => {
    await pool.query(
      `UPDATE items i SET state = 0, attempts = i.attempts - 1, lease_owner = NULL, lease_expires_at = NULL
       FROM unnest($1::bigint[], $2::int[]) AS r(id, attempt)
       WHERE i.id = r.id AND i.attempts = r.attempt AND i.state = 1`,
      [items.map((i) => i.itemId), items.map((i) => i.attempt)],
    );
  };
}

/** Renews the leases of the listed items an owner holds; one statement per heartbeat. */
export function pgHeartbeatItems(
  pool: pg.Pool,
): (owner: string, now: number, leaseMs: number, itemIds: readonly number[]) => Promise<number> {
  return async (owner, now, leaseMs, itemIds) => {
    if (itemIds.length === 0) return 0;
    const { rowCount } = await pool.query(
      `UPDATE items SET lease_expires_at = $1 WHERE state = 1 AND lease_owner = $2 AND id = ANY($3::bigint[])`,
      [now + leaseMs, owner, itemIds],
    );
    return rowCount ?? 0;
  };
}
