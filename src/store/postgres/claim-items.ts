import type pg from 'pg';
import { fairShares } from '../../domain/fair-shares.ts';
import type { BatchId } from '../../domain/ids.ts';
import type { ClaimedItem, ClaimOptions } from '../store.ts';

interface OpenBatch {
  seq: number;
  id: string;
  workspace: string;
  api_version: string;
  betas: string | null;
}

interface ClaimedRow {
  id: number;
  batch_seq: number;
  custom_id: string;
  attempts: number;
  model: string | null;
  params: Buffer;
}

/**
 * One claim round trip: for each (batch, share) pair, the oldest queued items of that batch are locked with
 * `FOR UPDATE SKIP LOCKED` (workers never wait for each other, and never take the same item), marked running under
 * this owner's lease with the attempt counted, and returned with their params.
 */
const CLAIM_SQL = `
  WITH want AS (SELECT * FROM unnest($1::bigint[], $2::int[]) AS w(seq, n)),
  picked AS MATERIALIZED (
    SELECT p.id FROM want CROSS JOIN LATERAL (
      SELECT i.id FROM items i
      WHERE i.batch_seq = want.seq AND i.state = 0 AND i.run_at <= $3
        AND (i.model IS NULL OR NOT (i.model = ANY($4::text[])))
      ORDER BY i.id LIMIT want.n
      FOR UPDATE SKIP LOCKED
    ) p
  ),
  claimed AS (
    UPDATE items it SET state = 1, attempts = it.attempts + 1, lease_owner = $5, lease_expires_at = $6
    FROM picked WHERE it.id = picked.id
    RETURNING it.id, it.batch_seq, it.custom_id, it.attempts, it.model
  )
  SELECT c.id, c.batch_seq, c.custom_id, c.attempts, c.model, p.params
  FROM claimed c JOIN payloads p ON p.item_id = c.id
  ORDER BY c.id`;

/**
 * Fair claiming on PostgreSQL: the shares across workspaces and batches are computed here (`fairShares`, the same
 * rule as SQLite's), then taken in one statement; a second statement hands what batches could not use to those that
 * still have work. Each worker process turns its own rotation, so the remainders move around the cluster.
 */
export function pgClaimItems(pool: pg.Pool): (opts: ClaimOptions) => Promise<ClaimedItem[]> {
  let rotation = Math.floor(Math.random() * 1024);
  return async (opts) => {
    if (opts.limit <= 0) return [];
    const { rows: batches } = await pool.query<OpenBatch>(
      `SELECT seq, id, workspace, api_version, betas FROM batches
       WHERE status = 'in_progress' AND deleted_at IS NULL AND expires_at > $1 ORDER BY seq`,
      [opts.now],
    );
    if (batches.length === 0) return [];
    const bySeq = new Map(batches.map((b) => [b.seq, b]));
    const skip = opts.skipModels ?? [];
    const lease = opts.now + opts.leaseMs;
    const take = async (want: Array<{ seq: number; n: number }>) =>
      (
        await pool.query<ClaimedRow>(CLAIM_SQL, [
          want.map((w) => w.seq),
          want.map((w) => w.n),
          opts.now,
          skip,
          opts.owner,
          lease,
        ])
      ).rows;

    const shares = fairShares(batches, opts.limit, rotation++);
    const rows = await take(shares.map((s) => ({ seq: s.batch.seq, n: s.n })));
    if (rows.length < opts.limit) {
      const got = new Map<number, number>();
      for (const r of rows) got.set(r.batch_seq, (got.get(r.batch_seq) ?? 0) + 1);
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
      const b = bySeq.get(r.batch_seq)!;
      return {
        itemId: r.id,
        batchSeq: r.batch_seq,
        batchId: b.id as BatchId,
        customId: r.custom_id,
        attempt: r.attempts,
        params: r.params,
        model: r.model,
        apiVersion: b.api_version,
        betas: b.betas,
      };
    });
  };
}
