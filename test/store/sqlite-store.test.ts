import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { newBatchId } from '../../src/domain/ids.ts';
import { LIMIT_PARAM } from '../../src/store/sqlite/bound-limit.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { WalCheckpointer } from '../../src/store/sqlite/wal-checkpointer.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { storeConformance } from './store-conformance.ts';

/** A batch in workspace `w` created at `now`. */
function newBatch(now: number) {
  return {
    id: newBatchId(now),
    workspace: 'w',
    createdAt: now,
    expiresAt: now + 1e6,
    apiVersion: 'v',
    betas: null,
  };
}

storeConformance('sqlite', { open: async () => new SqliteStore(SqliteStore.fileIn(tempDir(null))) });
storeConformance('sqlite with results spool', {
  open: async () => new SqliteStore(SqliteStore.fileIn(tempDir(null)), { spool: true }),
});

test('sqlite recover: running items are requeued and uncommitted uploads dropped', async (t) => {
  const file = SqliteStore.fileIn(tempDir(t));
  const store = new SqliteStore(file);
  const now = Date.now();
  const s = await store.beginIngest(newBatch(now));
  await s.append([{ customId: 'a', params: Buffer.from('{}'), model: null }]);
  await s.commit();
  const half = newBatchId(now);
  const s2 = await store.beginIngest({ ...newBatch(now), id: half });
  await s2.append([{ customId: 'a', params: Buffer.from('{}'), model: null }]);
  assert.equal((await store.claim({ owner: 'dead', limit: 5, now, leaseMs: 1e6 })).length, 1);
  store.db.close(); // as if the process died

  const reopened = new SqliteStore(file);
  t.after(() => reopened.close());
  assert.deepEqual(await reopened.recover(), { requeued: 1, droppedUploads: 1 });
  const again = await reopened.claim({ owner: 'new', limit: 5, now, leaseMs: 1e6 });
  assert.equal(again.length, 1);
  assert.equal(again[0]!.attempt, 2);
});

test('sqlite results spool: a complete file serves the download; an unclean stop drops every file', async (t) => {
  const dir = tempDir(t);
  const file = SqliteStore.fileIn(dir);
  const store = new SqliteStore(file, { spool: true });
  const now = Date.now();
  const s = await store.beginIngest(newBatch(now));
  await s.append([
    { customId: 'a', params: Buffer.from('{}'), model: null },
    { customId: 'b', params: Buffer.from('{}'), model: null },
  ]);
  const batch = await s.commit();
  const claimed = await store.claim({ owner: 'o', limit: 2, now, leaseMs: 1e6 });
  const line = (c: (typeof claimed)[number]) =>
    JSON.stringify({ custom_id: c.customId, result: { type: 'canceled' } });
  await store.complete([{ ...claimed[0]!, outcome: 'succeeded', line: line(claimed[0]!) }], now);
  const spooled = join(dir, 'results', `${batch.seq}.jsonl`);
  assert.equal(existsSync(spooled), false, 'no complete file before the batch ends');
  await store.complete([{ ...claimed[1]!, outcome: 'succeeded', line: line(claimed[1]!) }], now);
  assert.equal(existsSync(spooled), true, 'the file is kept once it holds one line per request');
  // Prove the download reads the file: change it and see the change come back.
  writeFileSync(spooled, 'from-the-file\n');
  let text = '';
  for await (const c of store.resultChunks(batch.seq)) text += c.toString();
  assert.equal(text, 'from-the-file\n');
  store.db.close(); // dies without closing cleanly

  const reopened = new SqliteStore(file, { spool: true });
  t.after(() => reopened.close());
  assert.equal(existsSync(spooled), false, 'after an unclean stop the spool is dropped');
  text = '';
  for await (const c of reopened.resultChunks(batch.seq)) text += c.toString();
  assert.deepEqual(
    text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).custom_id)
      .sort(),
    ['a', 'b'],
    'the download falls back to the table rows',
  );
});

test('the WAL checkpointer stops at once when its thread is already gone (its database was removed first)', async (t) => {
  const dir = tempDir(t);
  const errors: string[] = [];
  let checkpointer: WalCheckpointer | null = null;
  // The thread fails to open the missing file and exits (its worker is unref'd: a timer keeps this test alive).
  const alive = setInterval(() => {}, 1000);
  await new Promise<void>((resolve) => {
    checkpointer = new WalCheckpointer(join(dir, 'gone', 'barge.db'), 5, undefined, (m) => {
      errors.push(m);
      resolve();
    });
  });
  // Wait for the thread's exit (after its error) to have been seen.
  while (!(checkpointer as unknown as { exited: boolean }).exited) await new Promise((r) => setTimeout(r, 5));
  clearInterval(alive);
  assert.match(errors[0]!, /directory does not exist/);
  // Before the fix this waited for a 'stopped' reply or an exit that had already happened, with nothing keeping the
  // event loop alive: the test would end as cancelled.
  await checkpointer!.stop();
});

test('a queue thread that dies settles what it was doing, and the next operation starts a new one', async (t) => {
  const dir = tempDir(t);
  const store = new SqliteStore(SqliteStore.fileIn(dir), { spool: true });
  t.after(() => store.close());
  const now = Date.now();
  const s = await store.beginIngest({
    id: newBatchId(now),
    workspace: 'w',
    createdAt: now,
    expiresAt: now + 3_600_000,
    apiVersion: '2023-06-01',
    betas: null,
  });
  await s.append([
    { customId: 'a', params: Buffer.from('{"model":"m"}'), model: 'm' },
    { customId: 'b', params: Buffer.from('{"model":"m"}'), model: 'm' },
  ]);
  await s.commit();
  const first = await store.claim({ owner: 'o', limit: 1, now, leaseMs: 60_000 });
  assert.equal(first.length, 1);
  // Kill the thread under an operation in flight.
  const thread = (store as unknown as { queue: { worker: import('node:worker_threads').Worker } }).queue;
  const inFlight = store.claim({ owner: 'o', limit: 1, now, leaseMs: 60_000 });
  // Node 20 can let the event loop run dry while it terminates a thread that has its own loader-hooks thread (tsx
  // registers one in the queue thread when Barge runs from its sources): the process then ends with the terminate
  // promise unsettled (~1 run in 10). A timer holds the loop until the thread has exited.
  const keepAlive = setInterval(() => {}, 1000);
  await thread.worker.terminate().finally(() => clearInterval(keepAlive));
  // It settles rather than hanging: nearly always rejected; resolved only if the thread answered before it died.
  const outcome = await inFlight.then(
    () => 'answered',
    (e: Error) => e.message,
  );
  assert.match(outcome, /^answered$|queue thread exited/);
  // A new thread takes over: the item the dead one may or may not have claimed is fenced by state, so the next
  // claim finds either it or nothing, and the first claim's completion still lands.
  const again = await store.claim({ owner: 'o', limit: 1, now, leaseMs: 60_000 });
  assert.ok(again.length <= 1);
  const ended = await store.complete(
    [{ ...first[0]!, outcome: 'succeeded', line: '{"custom_id":"a","result":{"type":"succeeded"}}' }],
    now,
  );
  assert.deepEqual(ended, []);
  const batch = await store.getBatch('w', first[0]!.batchId);
  assert.equal(batch?.counts.succeeded, 1);
});

test('no SQLite statement binds a bare LIMIT ? (SQLite recompiles such a statement on every run)', () => {
  const dir = fileURLToPath(new URL('../../src/store/sqlite/', import.meta.url));
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'bound-limit.ts');
  assert.ok(files.includes('claim-items.ts'), `scanned ${dir}`);
  const bare = files.filter((f) => /LIMIT\s+\?/i.test(readFileSync(join(dir, f), 'utf8')));
  assert.deepEqual(bare, [], 'use LIMIT_PARAM (bound-limit.ts) instead');
  assert.equal(LIMIT_PARAM, 'LIMIT +?');
});
