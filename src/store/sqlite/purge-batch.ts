import type { Db } from './open-database.ts';

/**
 * Deletes up to `chunk` item rows (with their payloads and results) of a batch per call, and the batch row itself
 * once no items remain. Returns true while more remains, so callers can yield between chunks.
 */
export function purgeBatchRows(db: Db): (seq: number, chunk: number) => boolean {
  const pickItems = db.prepare('SELECT id FROM items WHERE batch_seq = ? LIMIT ?').pluck();
  const deletePayload = db.prepare('DELETE FROM payloads WHERE item_id = ?');
  const deleteResult = db.prepare('DELETE FROM results WHERE item_id = ?');
  const deleteItem = db.prepare('DELETE FROM items WHERE id = ?');
  const deleteBatch = db.prepare('DELETE FROM batches WHERE seq = ?');
  return db.transaction((seq: number, chunk: number): boolean => {
    const ids = pickItems.all(seq, chunk) as number[];
    for (const id of ids) {
      deletePayload.run(id);
      deleteResult.run(id);
      deleteItem.run(id);
    }
    if (ids.length < chunk) {
      deleteBatch.run(seq);
      return false;
    }
    return true;
  });
}

/** Deletes up to `chunk` payloads and results of an archived batch; true while more remains. Items stay. */
export function purgeArchivedRows(db: Db): (seq: number, chunk: number) => boolean {
  const pickItems = db.prepare('SELECT item_id FROM results WHERE batch_seq = ? LIMIT ?').pluck();
  const deletePayload = db.prepare('DELETE FROM payloads WHERE item_id = ?');
  const deleteResult = db.prepare('DELETE FROM results WHERE item_id = ?');
  return db.transaction((seq: number, chunk: number): boolean => {
    const ids = pickItems.all(seq, chunk) as number[];
    for (const id of ids) {
      deletePayload.run(id);
      deleteResult.run(id);
    }
    return ids.length === chunk;
  });
}
