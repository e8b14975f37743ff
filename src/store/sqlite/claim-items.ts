import { fairShares } from '../../domain/fair-shares.ts';
import type { BatchId } from '../../domain/ids.ts';
import type { OpenBatchRow } from '../rows.ts';
import type { ClaimedItem, ClaimOptions } from '../store.ts';
import { LIMIT_PARAM } from './bound-limit.ts';
import type { Db } from './open-database.ts';

/**
 * Fair claiming for the single-node store. SQLite has one writer, so the round-robin over batches is done here in
 * process (as River's SQLite driver and Oban Lite do): each claim shares `limit` across workspaces and their batches
 * (`fairShares`), then hands any unused share to batches that still have more. A 10-request batch created after a
 * 100,000-request one therefore gets its share on the very next claim.
 */
export function claimItems(db: Db): (opts: ClaimOptions) => ClaimedItem[] {
  const openBatches = db.prepare(
    `SELECT seq, id, workspace, api_version, betas FROM batches
     WHERE status = 'in_progress' AND deleted_at IS NULL AND expires_at > ? ORDER BY seq`,
  );
  // Rows as arrays (`raw`): better-sqlite3 builds an object per row property by property, which was 8% of the queue
  // thread's time in the dispatch bench.
  const claimSql = (filter: string) =>
    db
      .prepare(
        `UPDATE items SET state = 1, attempts = attempts + 1, lease_owner = ?, lease_expires_at = ?
       WHERE id IN (SELECT id FROM items WHERE batch_seq = ? AND state = 0 AND run_at <= ?${filter}
                    ORDER BY id ${LIMIT_PARAM})
       RETURNING id, custom_id, attempts, model`,
      )
      .raw();
  const claimFrom = claimSql('');
  // Items of lanes with no budget stay queued; an item without a model (it will fail validation) never waits.
  const claimSkipping = claimSql(' AND (model IS NULL OR model NOT IN (SELECT value FROM json_each(?)))');
  // One statement for a claim's payloads rather than one per item: 8.9 against 9.7 µs per claimed item, measured in
  // isolation on claims of 32 from a 100,000-request batch (in the dispatch bench, within its noise).
  const payloads = db
    .prepare('SELECT item_id, params FROM payloads WHERE item_id IN (SELECT value FROM json_each(?))')
    .raw();
  let rotation = 0;

  return db.transaction((opts: ClaimOptions): ClaimedItem[] => {
    const batches = openBatches.all(opts.now) as OpenBatchRow[];
    const out: ClaimedItem[] = [];
    if (batches.length === 0 || opts.limit <= 0) return out;
    const exhausted = new Set<number>();
    const skip = opts.skipModels?.length ? JSON.stringify(opts.skipModels) : null;
    const take = (b: OpenBatchRow, n: number) => {
      const lease = opts.now + opts.leaseMs;
      const rows = (
        skip === null
          ? claimFrom.all(opts.owner, lease, b.seq, opts.now, n)
          : claimSkipping.all(opts.owner, lease, b.seq, opts.now, skip, n)
      ) as Array<[id: number, customId: string, attempts: number, model: string | null]>;
      if (rows.length < n) exhausted.add(b.seq);
      if (rows.length === 0) return;
      const params = new Map<number, Buffer>();
      for (const [id, p] of payloads.all(JSON.stringify(rows.map((r) => r[0]))) as Array<[number, Buffer]>)
        params.set(id, p);
      for (const [id, customId, attempts, model] of rows) {
        out.push({
          itemId: id,
          batchSeq: b.seq,
          batchId: b.id as BatchId,
          customId,
          attempt: attempts,
          params: params.get(id)!,
          model,
          apiVersion: b.api_version,
          betas: b.betas,
        });
      }
    };
    const shares = fairShares(batches, opts.limit, rotation++);
    for (const { batch, n } of shares) take(batch, n);
    // Second pass: what a batch could not use goes to the others that still have work.
    for (const { batch } of shares) {
      const n = opts.limit - out.length;
      if (n <= 0) break;
      if (!exhausted.has(batch.seq)) take(batch, n);
    }
    return out;
  }).immediate as (opts: ClaimOptions) => ClaimedItem[];
}
