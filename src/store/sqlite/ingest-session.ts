import type { BatchRecord } from '../../domain/batch.ts';
import { type BatchRow, toBatchRecord } from '../rows.ts';
import type { IngestItem, IngestSession, NewBatch } from '../store.ts';
import { type Db, durably, syncWal } from './open-database.ts';
import { purgeBatchRows } from './purge-batch.ts';

/** Prepares the staged-upload operations: one insert transaction per appended chunk, one flip at commit. */
export function ingestOperations(db: Db): (batch: NewBatch) => IngestSession {
  const insertBatch = db.prepare(
    `INSERT INTO batches (id, workspace, status, created_at, expires_at, api_version, betas)
     VALUES (?, ?, 'ingesting', ?, ?, ?, ?)`,
  );
  const insertItem = db.prepare('INSERT INTO items (batch_seq, custom_id, model) VALUES (?, ?, ?)');
  const insertPayload = db.prepare('INSERT INTO payloads (item_id, params) VALUES (?, ?)');
  const flip = db.prepare(
    `UPDATE batches SET status = 'in_progress', total = ?, pending = ? WHERE seq = ? AND status = 'ingesting'
     RETURNING *`,
  );
  const purge = purgeBatchRows(db);

  const appendTx = db.transaction((seq: number, items: IngestItem[]) => {
    for (const item of items) {
      const { lastInsertRowid } = insertItem.run(seq, item.customId, item.model);
      insertPayload.run(lastInsertRowid, item.params);
    }
  });

  return (batch) => {
    const seq = Number(
      insertBatch.run(
        batch.id,
        batch.workspace,
        batch.createdAt,
        batch.expiresAt,
        batch.apiVersion,
        batch.betas,
      ).lastInsertRowid,
    );
    let total = 0;
    let done = false;
    return {
      async append(items) {
        if (done) throw new Error('ingest session already finished');
        appendTx.immediate(seq, items);
        total += items.length;
      },
      async commit(): Promise<BatchRecord> {
        if (done) throw new Error('ingest session already finished');
        done = true;
        await syncWal(db);
        const row = durably(db, () => flip.get(total, total, seq)) as BatchRow | undefined;
        if (!row) throw new Error(`batch ${batch.id} vanished during ingest`);
        return toBatchRecord(row);
      },
      async abort() {
        if (done) return;
        done = true;
        while (purge(seq, 5000)) {
          // Deleting in chunks keeps each write transaction short.
          await new Promise((r) => setImmediate(r));
        }
      },
    };
  };
}
