import { LIMIT_PARAM } from './bound-limit.ts';
import type { Db } from './open-database.ts';

/**
 * Chunked deletion of a batch's rows, one short transaction per call; returns true while more remains so callers
 * can yield between chunks.
 * - `deleted`: items with their payloads and results, then the batch row itself once no items remain.
 * - `archived`: payloads and results only; the batch and its items stay, so the batch is still listed.
 */
function purgeRows(db: Db, mode: 'deleted' | 'archived'): (seq: number, chunk: number) => boolean {
  const pick = db
    .prepare(
      mode === 'deleted'
        ? `SELECT id FROM items WHERE batch_seq = ? ${LIMIT_PARAM}`
        : `SELECT item_id FROM results WHERE batch_seq = ? ${LIMIT_PARAM}`,
    )
    .pluck();
  const deletePayload = db.prepare('DELETE FROM payloads WHERE item_id = ?');
  const deleteResult = db.prepare('DELETE FROM results WHERE item_id = ?');
  const deleteItem = db.prepare('DELETE FROM items WHERE id = ?');
  const deleteBatch = db.prepare('DELETE FROM batches WHERE seq = ?');
  return db.transaction((seq: number, chunk: number): boolean => {
    const ids = pick.all(seq, chunk) as number[];
    for (const id of ids) {
      deletePayload.run(id);
      deleteResult.run(id);
      if (mode === 'deleted') deleteItem.run(id);
    }
    if (ids.length < chunk) {
      if (mode === 'deleted') deleteBatch.run(seq);
      return false;
    }
    return true;
  }).immediate as (seq: number, chunk: number) => boolean;
}

/** Deletes a deleted (or never committed) batch entirely, a chunk at a time. */
export function purgeBatchRows(db: Db): (seq: number, chunk: number) => boolean {
  return purgeRows(db, 'deleted');
}

/** Deletes an archived batch's payloads and results, a chunk at a time. */
export function purgeArchivedRows(db: Db): (seq: number, chunk: number) => boolean {
  return purgeRows(db, 'archived');
}
