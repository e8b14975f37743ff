import type pg from 'pg';
import { ItemState } from '../../domain/batch-status.ts';
import type { BatchId } from '../../domain/ids.ts';
import type { Completion, Retry } from '../store.ts';
import { queryRetrying } from './in-transaction.ts';

/**
 * Fenced completion of many results in one statement (the `barge_complete` function of the schema). An item's final
 * state and its result line are written only if the item is still `running` under the same attempt: a completion
 * from a worker whose lease was taken over (rescued, expired, re-claimed) matches no row and is dropped, so no
 * custom_id ever gets two results. The batch's counts move in the same statement, and the batch ends there when its
 * last request finishes.
 *
 * Lock order: everything that writes both batches and items locks the batch rows first, in seq order, so two
 * completers (or a completer and the sweeper's expiry) never deadlock. Measured: with the lock taken by a separate
 * statement of a client-side transaction, three busy worker processes on two cores queued behind each other's
 * round trips (the holder "idle in transaction" while its event loop was busy), and completions fell behind claims.
 */
export function pgCompleteItems(
  pool: pg.Pool,
): (completions: Completion[], now: number) => Promise<BatchId[]> {
  return async (completions, now) => {
    const { rows } = await queryRetrying<{ batch_id: string; batch_status: string }>(
      pool,
      `SELECT * FROM barge_complete($1::bigint[], $2::int[], $3::smallint[], $4::text[], $5::bigint,
         $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[])`,
      [
        completions.map((x) => x.itemId),
        completions.map((x) => x.attempt),
        completions.map((x) => (x.outcome === 'succeeded' ? ItemState.succeeded : ItemState.errored)),
        completions.map((x) => x.line),
        now,
        // Usage columns: null model means "no usage to total" (errored, or no usage reported).
        completions.map((x) => (x.outcome === 'succeeded' && x.usage ? (x.model ?? '') : null)),
        completions.map((x) => x.usage?.inputTokens ?? 0),
        completions.map((x) => x.usage?.outputTokens ?? 0),
        completions.map((x) => x.usage?.cacheWriteTokens ?? 0),
        completions.map((x) => x.usage?.cacheWrite1hTokens ?? 0),
        completions.map((x) => x.usage?.cacheReadTokens ?? 0),
      ],
    );
    return rows.filter((r) => r.batch_status === 'ended').map((r) => r.batch_id as BatchId);
  };
}

/**
 * Requeues items after transient failures, each to run again at its `runAt`, fenced by attempt. A retry that does
 * not count (a 429) gives the attempt back.
 */
export function pgRetryItems(pool: pg.Pool): (retries: Retry[]) => Promise<number> {
  return async (retries) => {
    const { rowCount } = await queryRetrying(
      pool,
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
    await queryRetrying(
      pool,
      `UPDATE items i SET state = 0, attempts = i.attempts - 1, lease_owner = NULL, lease_expires_at = NULL
       FROM unnest($1::bigint[], $2::int[]) AS r(id, attempt)
       WHERE i.id = r.id AND i.attempts = r.attempt AND i.state = 1`,
      [items.map((i) => i.itemId), items.map((i) => i.attempt)],
    );
  };
}

/**
 * Renews the leases of the listed items an owner holds; one statement per heartbeat. Items locked right now are
 * being completed or retried by this same worker: skipping them (instead of waiting, in whatever order the scan
 * meets them) keeps the heartbeat out of lock cycles with those writes.
 */
export function pgHeartbeatItems(
  pool: pg.Pool,
): (owner: string, now: number, leaseMs: number, itemIds: readonly number[]) => Promise<number> {
  return async (owner, now, leaseMs, itemIds) => {
    if (itemIds.length === 0) return 0;
    const { rowCount } = await pool.query(
      `UPDATE items SET lease_expires_at = $1
       WHERE id IN (SELECT id FROM items WHERE state = 1 AND lease_owner = $2 AND id = ANY($3::bigint[])
                    FOR UPDATE SKIP LOCKED)`,
      [now + leaseMs, owner, itemIds],
    );
    return rowCount ?? 0;
  };
}
