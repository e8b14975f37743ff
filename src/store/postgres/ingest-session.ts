import type pg from 'pg';
import type { BatchRecord } from '../../domain/batch.ts';
import { type BatchRow, toBatchRecord } from '../rows.ts';
import type { IngestItem, IngestSession, NewBatch } from '../store.ts';
import { inTransaction } from './in-transaction.ts';
import { purgePgBatch } from './purge-batch.ts';
import { itemId } from './schema.ts';

/**
 * A staged upload on PostgreSQL. Each appended chunk is one transaction with `synchronous_commit = off` (like
 * SQLite's NORMAL for staging): nothing is acknowledged by it, and the flip's synchronous commit flushes the WAL
 * up to and including every staged row, so the 200 still means the whole batch is on disk.
 *
 * One statement writes a chunk: items from `unnest` arrays, payloads as a multi-row VALUES list, because
 * node-postgres sends a top-level Buffer parameter as binary while a bytea[] array would be hex text (twice the
 * bytes, and escaping CPU). One chunk is written while the caller scans the next (measured: Node and PostgreSQL
 * otherwise took turns, each about a third of a core busy); its error surfaces at the next append or the commit.
 */
export async function beginPgIngest(pool: pg.Pool, batch: NewBatch): Promise<IngestSession> {
  const { rows } = await pool.query<{ seq: number }>(
    `INSERT INTO batches (id, workspace, status, created_at, expires_at, api_version, betas)
     VALUES ($1, $2, 'ingesting', $3, $4, $5, $6) RETURNING seq`,
    [batch.id, batch.workspace, batch.createdAt, batch.expiresAt, batch.apiVersion, batch.betas],
  );
  const seq = rows[0]!.seq;
  let total = 0;
  let done = false;
  let inflight: Promise<void> | null = null;

  const write = (first: number, items: IngestItem[]) =>
    inTransaction(
      pool,
      async (c) => {
        const values: string[] = [];
        const params: unknown[] = [first, seq, items.map((i) => i.customId), items.map((i) => i.model)];
        items.forEach((item, i) => {
          const p = item.params;
          params.push(Buffer.from(p.buffer, p.byteOffset, p.byteLength));
          values.push(`(${first + i}, $${params.length}::bytea)`);
        });
        await c.query(
          `WITH staged AS (
           INSERT INTO items (id, batch_seq, custom_id, model)
           SELECT $1::bigint + u.ord - 1, $2, u.custom_id, u.model
           FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS u(custom_id, model, ord)
         )
         INSERT INTO payloads (item_id, params) VALUES ${values.join(',')}`,
          params,
        );
      },
      { durable: false },
    );
  const settle = async () => {
    const w = inflight;
    inflight = null;
    if (w) await w;
  };

  return {
    async append(items: IngestItem[]) {
      if (done) throw new Error('ingest session already finished');
      await settle();
      if (items.length === 0) return;
      inflight = write(itemId(seq, total), items);
      inflight.catch(() => {}); // observed by the next settle(); never an unhandled rejection meanwhile
      total += items.length;
    },
    async commit(): Promise<BatchRecord> {
      if (done) throw new Error('ingest session already finished');
      await settle();
      done = true;
      const { rows: flipped } = await pool.query<BatchRow>(
        `UPDATE batches SET status = 'in_progress', total = $1, pending = $1
         WHERE seq = $2 AND status = 'ingesting' RETURNING *`,
        [total, seq],
      );
      if (!flipped[0]) throw new Error(`batch ${batch.id} vanished during ingest`);
      return toBatchRecord(flipped[0]);
    },
    async abort() {
      if (done) return;
      done = true;
      await settle().catch(() => {});
      while (await purgePgBatch(pool, seq, 5000, 'deleted'));
    },
  };
}
