import type { BatchId } from '../../domain/ids.ts';
import { canceledLine, expiredLine } from '../../wire/result-line.ts';
import { WORKER_ROW_TTL_MS } from '../rows.ts';
import { emptySweepReport, type SweepOptions, type SweepReport } from '../store.ts';
import { LIMIT_PARAM } from './bound-limit.ts';
import { type EndedBatch, endBatchIfDone } from './complete-items.ts';
import type { Db } from './open-database.ts';
import { purgeArchivedRows, purgeBatchRows } from './purge-batch.ts';

/**
 * One sweeper pass. Each step is its own short write transaction over at most `chunk` rows, so a 100,000-request
 * cancel or expiry never blocks the API for long; `more` tells the caller to run again right away.
 */
/** The sweep's report plus what the results spool must mirror: lines written, batches ended, batches gone. */
export interface SweepOutcome {
  report: SweepReport;
  written: Map<number, string[]>;
  ended: EndedBatch[];
  removed: number[];
}

export function sweepStore(db: Db): (opts: SweepOptions) => SweepOutcome {
  const lapsedLeases = db
    .prepare(`SELECT id FROM items WHERE state = 1 AND lease_expires_at < ? ${LIMIT_PARAM}`)
    .pluck();
  const requeue = db.prepare(
    'UPDATE items SET state = 0, lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND state = 1',
  );
  const canceling = db.prepare(
    `SELECT seq, id FROM batches WHERE status = 'canceling' AND deleted_at IS NULL`,
  );
  const expiring = db.prepare(
    `SELECT seq, id FROM batches WHERE status IN ('in_progress', 'canceling') AND expires_at <= ? AND deleted_at IS NULL`,
  );
  const queuedOf = db.prepare(
    `SELECT id, custom_id FROM items WHERE batch_seq = ? AND state = 0 ${LIMIT_PARAM}`,
  );
  const unfinishedOf = db.prepare(
    `SELECT id, custom_id FROM items WHERE batch_seq = ? AND state IN (0, 1) ${LIMIT_PARAM}`,
  );
  const finalize = db.prepare(
    'UPDATE items SET state = ?, lease_owner = NULL, lease_expires_at = NULL WHERE id = ?',
  );
  const insertResult = db.prepare('INSERT INTO results (item_id, batch_seq, line) VALUES (?, ?, ?)');
  const bumpCanceled = db.prepare(
    'UPDATE batches SET pending = pending - ?, canceled = canceled + ? WHERE seq = ?',
  );
  const bumpExpired = db.prepare(
    'UPDATE batches SET pending = pending - ?, expired = expired + ? WHERE seq = ?',
  );
  const stalled = db.prepare(
    `SELECT seq FROM batches WHERE status IN ('in_progress', 'canceling') AND pending = 0 AND deleted_at IS NULL`,
  );
  const archivable = db.prepare(
    `SELECT seq, id FROM batches
     WHERE status = 'ended' AND archived_at IS NULL AND deleted_at IS NULL AND created_at <= ?`,
  );
  const markArchived = db.prepare('UPDATE batches SET archived_at = ? WHERE seq = ?');
  const archivedWithRows = db.prepare(
    `SELECT b.seq FROM batches b WHERE b.archived_at IS NOT NULL AND b.deleted_at IS NULL
     AND EXISTS (SELECT 1 FROM results r WHERE r.batch_seq = b.seq)`,
  );
  const deleted = db.prepare('SELECT seq FROM batches WHERE deleted_at IS NOT NULL LIMIT 8').pluck();
  const forgetWorkers = db.prepare('DELETE FROM workers WHERE seen_at < ?');
  const end = endBatchIfDone(db);
  const purgeDeleted = purgeBatchRows(db);
  const purgeArchived = purgeArchivedRows(db);

  // Each step selects its rows inside its own IMMEDIATE transaction: the queue thread writes on another connection,
  // so rows read before the transaction could have changed by the time it writes.
  const finishItems = db.transaction(
    (seq: number, kind: 'canceled' | 'expired', chunk: number): { lines: string[]; more: boolean } => {
      const rows = (kind === 'canceled' ? queuedOf : unfinishedOf).all(seq, chunk) as Array<{
        id: number;
        custom_id: string;
      }>;
      const state = kind === 'canceled' ? 4 : 5;
      const line = kind === 'canceled' ? canceledLine : expiredLine;
      const lines: string[] = [];
      for (const r of rows) {
        const l = line(r.custom_id);
        finalize.run(state, r.id);
        insertResult.run(r.id, seq, l);
        lines.push(l);
      }
      if (rows.length) (kind === 'canceled' ? bumpCanceled : bumpExpired).run(rows.length, rows.length, seq);
      return { lines, more: rows.length === chunk };
    },
  );
  const rescue = db.transaction((now: number, chunk: number): { rescued: number; more: boolean } => {
    const lapsed = lapsedLeases.all(now, chunk) as number[];
    let rescued = 0;
    for (const id of lapsed) rescued += requeue.run(id).changes;
    return { rescued, more: lapsed.length === chunk };
  });

  return (opts) => {
    const report = emptySweepReport();
    const { now, chunk } = opts;
    const written = new Map<number, string[]>();
    const ended: EndedBatch[] = [];
    const removed: number[] = [];
    const wrote = (seq: number, lines: string[]) => written.set(seq, [...(written.get(seq) ?? []), ...lines]);

    // 1. Rescue: a lapsed lease means its worker died; the item runs again.
    const rescued = rescue.immediate(now, chunk);
    report.rescued += rescued.rescued;
    if (rescued.more) report.more = true;

    // 2. Expiry first: at expires_at, unsent and in-flight requests alike become `expired`.
    for (const b of expiring.all(now) as Array<{ seq: number; id: string }>) {
      const { lines, more } = finishItems.immediate(b.seq, 'expired', chunk);
      if (lines.length) {
        wrote(b.seq, lines);
        report.expiredBatches.push(b.id as BatchId);
      }
      report.expired += lines.length;
      if (more) report.more = true;
    }

    // 3. Cancellation: unsent requests of a canceling batch become `canceled`; in-flight ones may still finish.
    for (const b of canceling.all() as Array<{ seq: number; id: string }>) {
      const { lines, more } = finishItems.immediate(b.seq, 'canceled', chunk);
      if (lines.length) wrote(b.seq, lines);
      report.canceled += lines.length;
      if (more) report.more = true;
    }

    // 4. Finalisation of any batch left with nothing pending.
    for (const seq of stalled.pluck().all() as number[]) {
      const e = end(seq, now);
      if (e) {
        report.ended.push(e.id);
        ended.push(e);
      }
    }

    // 5. Archival at created_at + retention: the batch stays visible, its results go.
    for (const b of archivable.all(now - opts.retentionMs) as Array<{ seq: number; id: string }>) {
      markArchived.run(now, b.seq);
      report.archived.push(b.id as BatchId);
      removed.push(b.seq);
    }
    for (const seq of archivedWithRows.pluck().all() as number[]) {
      if (purgeArchived(seq, chunk)) report.more = true;
    }

    // 6. Deleted batches are purged in chunks after the API has already stopped showing them.
    for (const seq of deleted.all() as number[]) {
      if (purgeDeleted(seq, chunk)) report.more = true;
      report.purged++;
      removed.push(seq);
    }
    // 7. Workers not heard from for a day leave the overview.
    forgetWorkers.run(now - WORKER_ROW_TTL_MS);
    return { report, written, ended, removed };
  };
}

/** Start-up recovery for the single-node store: no other process can hold a claim, so every `running` item's
 * worker is gone; uploads that never committed are dropped. */
export function recoverStore(db: Db): () => { requeued: number; droppedUploads: number } {
  const requeueAll = db.prepare(
    'UPDATE items SET state = 0, lease_owner = NULL, lease_expires_at = NULL WHERE state = 1',
  );
  const ingesting = db.prepare(`SELECT seq FROM batches WHERE status = 'ingesting'`).pluck();
  const purge = purgeBatchRows(db);
  return () => {
    const requeued = requeueAll.run().changes;
    const seqs = ingesting.all() as number[];
    for (const seq of seqs) while (purge(seq, 5000));
    return { requeued, droppedUploads: seqs.length };
  };
}
