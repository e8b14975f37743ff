import { ItemState } from '../../domain/batch-status.ts';
import type { BatchId } from '../../domain/ids.ts';
import { addUsage as sumUsage, type TokenUsage } from '../../domain/token-usage.ts';
import type { Completion, Retry } from '../store.ts';
import type { Db } from './open-database.ts';

/**
 * Fenced completion, many results per transaction. An item's final state and its result line are written together
 * only if the item is still `running` under the same attempt: a completion from a worker whose claim was rescued,
 * expired or re-claimed updates no row and is dropped, so no custom_id ever gets two results.
 */
/**
 * What a completion transaction did: which completions it wrote (their indices, in order; indices rather than lines,
 * so the queue thread sends back no copy of the lines) and the batches left with nothing pending. Those are ended
 * by `endBatches`, in a transaction of its own that commits only once this one is on disk (see queue-thread.ts).
 */
export interface CompletionOutcome {
  written: number[];
  drained: number[];
}

export function completeItems(db: Db): (completions: Completion[]) => CompletionOutcome {
  const fence = db.prepare(
    `UPDATE items SET state = ?, lease_owner = NULL, lease_expires_at = NULL
     WHERE id = ? AND attempts = ? AND state = 1`,
  );
  const insertResult = db.prepare('INSERT INTO results (item_id, batch_seq, line) VALUES (?, ?, ?)');
  const bump = db.prepare(
    `UPDATE batches SET pending = pending - ?, succeeded = succeeded + ?, errored = errored + ?
     WHERE seq = ? RETURNING pending`,
  );
  const addUsage = db.prepare(
    `INSERT INTO batch_usage (batch_seq, workspace, model, requests, input_tokens, output_tokens, cache_write_tokens,
       cache_write_1h_tokens, cache_read_tokens)
     VALUES (?, (SELECT workspace FROM batches WHERE seq = ?), ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (batch_seq, model) DO UPDATE SET
       requests = requests + excluded.requests, input_tokens = input_tokens + excluded.input_tokens,
       output_tokens = output_tokens + excluded.output_tokens,
       cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
       cache_write_1h_tokens = cache_write_1h_tokens + excluded.cache_write_1h_tokens,
       cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens`,
  );

  return db.transaction((completions: Completion[]): CompletionOutcome => {
    const deltas = new Map<number, { succeeded: number; errored: number }>();
    const written: number[] = [];
    // Usage of the written succeeded results, per batch and model: one upsert each per transaction.
    const usage = new Map<string, { seq: number; model: string; u: TokenUsage }>();
    for (let i = 0; i < completions.length; i++) {
      const c = completions[i]!;
      const state = c.outcome === 'succeeded' ? ItemState.succeeded : ItemState.errored;
      if (fence.run(state, c.itemId, c.attempt).changes !== 1) continue;
      insertResult.run(c.itemId, c.batchSeq, c.line);
      written.push(i);
      let d = deltas.get(c.batchSeq);
      if (!d) {
        d = { succeeded: 0, errored: 0 };
        deltas.set(c.batchSeq, d);
      }
      d[c.outcome]++;
      if (c.outcome === 'succeeded' && c.usage) {
        const model = c.model ?? '';
        const key = `${c.batchSeq}\0${model}`;
        const prev = usage.get(key);
        usage.set(key, { seq: c.batchSeq, model, u: prev ? sumUsage(prev.u, c.usage) : c.usage });
      }
    }
    for (const { seq, model, u } of usage.values()) {
      addUsage.run(
        seq,
        seq,
        model,
        u.requests,
        u.inputTokens,
        u.outputTokens,
        u.cacheWriteTokens,
        u.cacheWrite1hTokens,
        u.cacheReadTokens,
      );
    }
    const drained: number[] = [];
    for (const [seq, d] of deltas) {
      const row = bump.get(d.succeeded + d.errored, d.succeeded, d.errored, seq) as
        | { pending: number }
        | undefined;
      if (row && row.pending === 0) drained.push(seq);
    }
    return { written, drained };
  }).immediate as (completions: Completion[]) => CompletionOutcome;
}

/** Ends the listed batches that have nothing pending, in one transaction; returns those this call ended. */
export function endBatches(db: Db): (seqs: readonly number[], now: number) => EndedBatch[] {
  const end = endBatchIfDone(db);
  return db.transaction((seqs: readonly number[], now: number): EndedBatch[] => {
    const ended: EndedBatch[] = [];
    for (const seq of seqs) {
      const e = end(seq, now);
      if (e) ended.push(e);
    }
    return ended;
  }).immediate as (seqs: readonly number[], now: number) => EndedBatch[];
}

/** A batch that has just ended. */
export interface EndedBatch {
  id: BatchId;
  seq: number;
  total: number;
}

/** Ends a batch whose every item has a result. Returns it if this call ended it. */
export function endBatchIfDone(db: Db): (seq: number, now: number) => EndedBatch | null {
  const end = db.prepare(
    `UPDATE batches SET status = 'ended', ended_at = ?
     WHERE seq = ? AND pending = 0 AND status IN ('in_progress', 'canceling') RETURNING id, seq, total`,
  );
  return (seq, now) => (end.get(now, seq) as EndedBatch | undefined) ?? null;
}

/**
 * Requeues items after transient failures, each to run again at its `runAt`, fenced by attempt. A retry that does
 * not count (a 429) gives the attempt back, as a release does.
 */
export function retryItems(db: Db): (retries: Retry[]) => number {
  const requeue = db.prepare(
    `UPDATE items SET state = 0, attempts = attempts - ?, run_at = ?, last_error = ?,
       lease_owner = NULL, lease_expires_at = NULL
     WHERE id = ? AND attempts = ? AND state = 1`,
  );
  return db.transaction((retries: Retry[]) => {
    let n = 0;
    for (const r of retries) {
      n += requeue.run(r.countAttempt ? 0 : 1, r.runAt, r.error, r.itemId, r.attempt).changes;
    }
    return n;
  }).immediate as (retries: Retry[]) => number;
}

/** Returns claimed-but-unstarted items to the queue, undoing the attempt count (graceful shutdown). */
export function releaseItems(db: Db): (items: Array<{ itemId: number; attempt: number }>) => void {
  const release = db.prepare(
    `UPDATE items SET state = 0, attempts = attempts - 1, lease_owner = NULL, lease_expires_at = NULL
     WHERE id = ? AND attempts = ? AND state = 1`,
  );
  return db.transaction((items: Array<{ itemId: number; attempt: number }>) => {
    for (const i of items) release.run(i.itemId, i.attempt);
  }).immediate as (items: Array<{ itemId: number; attempt: number }>) => void;
}

/** Renews the leases of the listed items an owner holds; one statement per heartbeat. */
export function heartbeatItems(
  db: Db,
): (owner: string, now: number, leaseMs: number, itemIds: readonly number[]) => number {
  const renew = db.prepare(
    `UPDATE items SET lease_expires_at = ?
     WHERE state = 1 AND lease_owner = ? AND id IN (SELECT value FROM json_each(?))`,
  );
  return (owner, now, leaseMs, itemIds) =>
    itemIds.length === 0 ? 0 : renew.run(now + leaseMs, owner, JSON.stringify(itemIds)).changes;
}
