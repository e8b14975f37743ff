import type pg from 'pg';
import type { BatchRecord } from '../../domain/batch.ts';
import {
  type BatchRow,
  type RequestRow,
  toBatchRecord,
  toModelUsage,
  toRequestRecord,
  toWorkerReport,
  USAGE_SUMS,
  type UsageRow,
  type WorkerRow,
  workerState,
} from '../rows.ts';
import type {
  CancelOutcome,
  DeleteOutcome,
  ListQuery,
  ModelUsage,
  QueueStats,
  RequestRecord,
  WorkerReport,
} from '../store.ts';
import { itemRange } from './schema.ts';

const VISIBLE = `status <> 'ingesting' AND deleted_at IS NULL`;

/** Read and lifecycle queries on visible batches. Ids are time-ordered, so "newest first" is `ORDER BY id DESC`. */
export function pgBatchQueries(pool: pg.Pool) {
  const getBatch = async (workspace: string, id: string): Promise<BatchRecord | null> => {
    const { rows } = await pool.query<BatchRow>(
      `SELECT * FROM batches WHERE workspace = $1 AND id = $2 AND ${VISIBLE}`,
      [workspace, id],
    );
    return rows[0] ? toBatchRecord(rows[0]) : null;
  };

  return {
    getBatch,

    async listBatches(
      workspace: string,
      q: ListQuery,
    ): Promise<{ batches: BatchRecord[]; hasMore: boolean }> {
      if (q.beforeId !== undefined) {
        // The page immediately newer than the cursor, still returned newest first.
        const { rows } = await pool.query<BatchRow>(
          `SELECT * FROM batches WHERE workspace = $1 AND id > $2 AND ${VISIBLE} ORDER BY id ASC LIMIT $3`,
          [workspace, q.beforeId, q.limit + 1],
        );
        return {
          batches: rows.slice(0, q.limit).reverse().map(toBatchRecord),
          hasMore: rows.length > q.limit,
        };
      }
      const { rows } =
        q.afterId !== undefined
          ? await pool.query<BatchRow>(
              `SELECT * FROM batches WHERE workspace = $1 AND id < $2 AND ${VISIBLE} ORDER BY id DESC LIMIT $3`,
              [workspace, q.afterId, q.limit + 1],
            )
          : await pool.query<BatchRow>(
              `SELECT * FROM batches WHERE workspace = $1 AND ${VISIBLE} ORDER BY id DESC LIMIT $2`,
              [workspace, q.limit + 1],
            );
      return { batches: rows.slice(0, q.limit).map(toBatchRecord), hasMore: rows.length > q.limit };
    },

    async cancelBatch(workspace: string, id: string, now: number): Promise<CancelOutcome> {
      const { rows } = await pool.query<BatchRow>(
        `UPDATE batches SET status = 'canceling', cancel_initiated_at = $1
         WHERE workspace = $2 AND id = $3 AND status = 'in_progress' AND deleted_at IS NULL RETURNING *`,
        [now, workspace, id],
      );
      if (rows[0]) return { kind: 'ok', batch: toBatchRecord(rows[0]) };
      const current = await getBatch(workspace, id);
      if (!current) return { kind: 'not_found' };
      if (current.status === 'ended') return { kind: 'ended' };
      return { kind: 'ok', batch: current }; // already canceling: unchanged
    },

    async deleteBatch(workspace: string, id: string, now: number): Promise<DeleteOutcome> {
      const { rowCount } = await pool.query(
        `UPDATE batches SET deleted_at = $1
         WHERE workspace = $2 AND id = $3 AND status = 'ended' AND deleted_at IS NULL`,
        [now, workspace, id],
      );
      if (rowCount) return { kind: 'ok' };
      const current = await getBatch(workspace, id);
      return current ? { kind: 'not_ended', batch: current } : { kind: 'not_found' };
    },

    async batchUsage(seq: number): Promise<ModelUsage[]> {
      const { rows } = await pool.query<UsageRow>(
        `SELECT model, ${USAGE_SUMS} FROM batch_usage WHERE batch_seq = $1 GROUP BY model ORDER BY model`,
        [seq],
      );
      return rows.map(toModelUsage);
    },
    async workspaceUsage(workspace: string): Promise<ModelUsage[]> {
      const { rows } = await pool.query<UsageRow>(
        `SELECT model, ${USAGE_SUMS} FROM batch_usage WHERE workspace = $1 GROUP BY model ORDER BY model`,
        [workspace],
      );
      return rows.map(toModelUsage);
    },
    async findRequest(seq: number, customId: string): Promise<RequestRecord | null> {
      const { rows } = await pool.query<RequestRow>(
        `SELECT i.custom_id, i.state, i.attempts, i.last_error, r.line, p.params FROM items i
         LEFT JOIN results r ON r.item_id = i.id LEFT JOIN payloads p ON p.item_id = i.id WHERE i.batch_seq = $1 AND i.custom_id = $2`,
        [seq, customId],
      );
      return rows[0] ? toRequestRecord(rows[0]) : null;
    },

    async erroredRequests(seq: number, limit: number): Promise<Array<{ customId: string; line: string }>> {
      const [lo, hi] = itemRange(seq);
      const { rows } = await pool.query<{ customId: string; line: string }>(
        `SELECT i.custom_id AS "customId", r.line FROM items i JOIN results r ON r.item_id = i.id
         WHERE i.id >= $1 AND i.id < $2 AND i.state = 3 ORDER BY i.id LIMIT $3`,
        [lo, hi, limit],
      );
      return rows;
    },

    async reportWorker(r: WorkerReport): Promise<void> {
      await pool.query(
        `INSERT INTO workers (owner, started_at, seen_at, state) VALUES ($1, $2, $3, $4)
         ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at, state = excluded.state`,
        [r.owner, r.startedAt, r.seenAt, workerState(r)],
      );
    },
    async listWorkers(since: number): Promise<WorkerReport[]> {
      const { rows } = await pool.query<WorkerRow>(
        'SELECT * FROM workers WHERE seen_at >= $1 ORDER BY started_at DESC, owner',
        [since],
      );
      return rows.map(toWorkerReport);
    },

    async queueStats(): Promise<QueueStats> {
      const [statuses, queued] = await Promise.all([
        pool.query<{ status: string; n: number }>(
          `SELECT status, count(*)::int AS n FROM batches WHERE ${VISIBLE} GROUP BY status`,
        ),
        pool.query<{ model: string | null; queued: number }>(
          'SELECT model, count(*)::int AS queued FROM items WHERE state = 0 GROUP BY model',
        ),
      ]);
      const batchesByStatus: Record<string, number> = {};
      for (const r of statuses.rows) batchesByStatus[r.status] = r.n;
      return { batchesByStatus, queuedByModel: queued.rows };
    },

    /** One keyset page of a batch's result lines, joined by the server into one string ending in `\n`. */
    async resultsPage(
      batchSeq: number,
      afterItemId: number,
      limit: number,
    ): Promise<{ text: string | null; lastItemId: number; rows: number }> {
      const [lo, hi] = itemRange(batchSeq);
      const { rows } = await pool.query<{ last: number | null; n: number; text: string | null }>(
        `SELECT max(item_id) AS last, count(*)::int AS n, string_agg(line, E'\\n' ORDER BY item_id) || E'\\n' AS text
         FROM (SELECT item_id, line FROM results WHERE item_id > $1 AND item_id < $2 ORDER BY item_id LIMIT $3) page`,
        [Math.max(afterItemId, lo - 1), hi, limit],
      );
      const r = rows[0]!;
      return { text: r.n > 0 ? r.text : null, lastItemId: r.last ?? afterItemId, rows: r.n };
    },
  };
}
