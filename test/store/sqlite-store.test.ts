import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newBatchId } from '../../src/domain/ids.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { storeConformance } from './store-conformance.ts';

storeConformance('sqlite', { open: async () => new SqliteStore(SqliteStore.fileIn(tempDir(null))) });

test('sqlite recover: running items are requeued and uncommitted uploads dropped', async (t) => {
  const file = SqliteStore.fileIn(tempDir(t));
  const store = new SqliteStore(file);
  const now = Date.now();
  const s = await store.beginIngest({
    id: newBatchId(now),
    workspace: 'w',
    createdAt: now,
    expiresAt: now + 1e6,
    apiVersion: 'v',
    betas: null,
  });
  await s.append([{ customId: 'a', params: Buffer.from('{}') }]);
  await s.commit();
  const half = newBatchId(now);
  const s2 = await store.beginIngest({
    id: half,
    workspace: 'w',
    createdAt: now,
    expiresAt: now + 1e6,
    apiVersion: 'v',
    betas: null,
  });
  await s2.append([{ customId: 'a', params: Buffer.from('{}') }]);
  assert.equal((await store.claim({ owner: 'dead', limit: 5, now, leaseMs: 1e6 })).length, 1);
  store.db.close(); // as if the process died

  const reopened = new SqliteStore(file);
  t.after(() => reopened.close());
  assert.deepEqual(await reopened.recover(), { requeued: 1, droppedUploads: 1 });
  const again = await reopened.claim({ owner: 'new', limit: 5, now, leaseMs: 1e6 });
  assert.equal(again.length, 1);
  assert.equal(again[0]!.attempt, 2);
});
