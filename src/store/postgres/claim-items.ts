import type pg from 'pg';
import { fairShares } from '../../domain/fair-shares.ts';
import type { BatchId } from '../../domain/ids.ts';
import type { OpenBatchRow } from '../rows.ts';
import type { ClaimedItem, ClaimOptions } from '../store.ts';

interface ClaimedRow {
  item_id: number;
  item_batch_seq: number;
  item_custom_id: string;
  item_attempts: number;
  item_model: string | null;
  item_params: Buffer;
}

/**
 * Fair claiming on PostgreSQL: the shares across workspaces and batches are computed here (`fairShares`, the same
 * rule as SQLite's), then taken in one statement; a second statement hands what batches could not use to those that
 * still have work. Each worker process turns its own rotation, so the remainders move around the cluster.
 */
export function pgClaimItems(pool: pg.Pool): (opts: ClaimOptions) => Promise<ClaimedItem[]> {
  let rotation = Math.floor(Math.random() * 1024);
  return async (opts) => {
    if (opts.limit <= 0) return [];
    const { rows: batches } = await pool.query<OpenBatchRow>(
      `SELECT seq, id, workspace, api_version, betas FROM batches
       WHERE status = 'in_progress' AND deleted_at IS NULL AND expires_at > $1 ORDER BY seq`,
      [opts.now],
    );
    if (batches.length === 0) return [];
    const bySeq = new Map(batches.map((b) => [b.seq, b]));
    const skip = opts.skipModels ?? [];
    const lease = opts.now + opts.leaseMs;
    // One round trip (the schema's `barge_claim`): per (batch, share), the oldest queued items of the batch are
    // locked with FOR UPDATE SKIP LOCKED (workers never wait for each other, and never take the same item), marked
    // running under this owner's lease with the attempt counted, and returned with their params.
    const take = async (want: Array<{ seq: number; n: number }>) =>
      (
        await pool.query<ClaimedRow>(
          'SELECT * FROM barge_claim($1::bigint[], $2::int[], $3::bigint, $4::text[], $5::text, $6::bigint)',
          [want.map((w) => w.seq), want.map((w) => w.n), opts.now, skip, opts.owner, lease],
        )
      ).rows;

    const shares = fairShares(batches, opts.limit, rotation++);
    const rows = await take(shares.map((s) => ({ seq: s.batch.seq, n: s.n })));
    if (rows.length < opts.limit) {
      const got = new Map<number, number>();
      for (const r of rows) got.set(r.item_batch_seq, (got.get(r.item_batch_seq) ?? 0) + 1);
      // Batches that filled their share may have more: they get what the others could not use.
      const full = shares.filter((s) => got.get(s.batch.seq) === s.n);
      const more = fairShares(
        full.map((s) => s.batch),
        opts.limit - rows.length,
        rotation,
      ).map((s) => ({ seq: s.batch.seq, n: s.n }));
      if (more.length) rows.push(...(await take(more)));
    }
    return rows.map((r) => {
      const b = bySeq.get(r.item_batch_seq)!;
      return {
        itemId: r.item_id,
        batchSeq: r.item_batch_seq,
        batchId: b.id as BatchId,
        customId: r.item_custom_id,
        attempt: r.item_attempts,
        params: r.item_params,
        model: r.item_model,
        apiVersion: b.api_version,
        betas: b.betas,
      };
    });
  };
}
