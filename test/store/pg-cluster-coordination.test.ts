// What PostgreSQL adds for a cluster beyond the Store conformance suite: events between processes, and one sweeper
// pass at a time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { newBatchId } from '../../src/domain/ids.ts';
import { encodeLanePause } from '../../src/queue/notifier.ts';
import { clientConfig } from '../../src/store/postgres/open-pool.ts';
import { PgNotifier } from '../../src/store/postgres/pg-notifier.ts';
import { PgStore } from '../../src/store/postgres/pg-store.ts';
import { dropSchema, freshSchemaName, PG_URL } from '../helpers/pg.ts';

const DAY = 86_400_000;

/** Waits for the next payload of `event` on a notifier. */
function next(n: PgNotifier, event: 'batch-ready' | 'lane-paused'): Promise<string> {
  return new Promise((resolve) => {
    const off = n.on(event, (p) => {
      off();
      resolve(p);
    });
  });
}

test('PgNotifier: events reach the other processes once, and listening resumes after the connection is killed', async (t) => {
  const schema = freshSchemaName();
  const store = await PgStore.open({ url: PG_URL, schema, poolSize: 2 });
  const config = clientConfig({ url: PG_URL, schema });
  const a = await PgNotifier.start(config, store.pool, { schema });
  const b = await PgNotifier.start(config, store.pool, { schema });
  t.after(async () => {
    await a.close();
    await b.close();
    await store.close();
    await dropSchema(schema);
  });

  const seenByA: string[] = [];
  a.on('batch-ready', (p) => seenByA.push(p));
  const atB = next(b, 'batch-ready');
  a.notify('batch-ready', 'msgbatch_1');
  assert.equal(await atB, 'msgbatch_1');
  const pause = encodeLanePause({ lane: 'claude:model with spaces', untilMs: 123 });
  const pauseAtB = next(b, 'lane-paused');
  a.notify('lane-paused', pause);
  assert.equal(await pauseAtB, pause);
  // A's own NOTIFY comes back to it from the server too; it must not count twice.
  const marker = next(b, 'batch-ready');
  a.notify('batch-ready', 'msgbatch_2');
  await marker;
  assert.deepEqual(seenByA, ['msgbatch_1', 'msgbatch_2']);

  // Kill B's LISTEN connection from the server side: B reconnects and tells its listeners to look again.
  const resumed = next(b, 'batch-ready');
  const killed = await store.pool.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1`,
    [`LISTEN barge_events_${schema}`],
  );
  assert.equal(killed.rowCount, 2, 'both LISTEN connections were found and terminated');
  assert.equal(await resumed, '', 'a wake-up after reconnecting');
  const again = next(b, 'batch-ready');
  a.notify('batch-ready', 'msgbatch_3');
  assert.equal(await again, 'msgbatch_3');
});

test('one sweeper pass at a time across processes: a pass finds the lock held and does nothing', async (t) => {
  const schema = freshSchemaName();
  const one = await PgStore.open({ url: PG_URL, schema, poolSize: 2 });
  const other = await PgStore.open({ url: PG_URL, schema, poolSize: 2 });
  t.after(async () => {
    await one.close();
    await other.close();
    await dropSchema(schema);
  });
  const now = Date.parse('2026-11-25T12:00:00Z');
  const s = await one.beginIngest({
    id: newBatchId(now),
    workspace: 'w',
    createdAt: now,
    expiresAt: now + DAY,
    apiVersion: 'v',
    betas: null,
  });
  await s.append([{ customId: 'a', params: Buffer.from('{}'), model: 'm' }]);
  await s.commit();
  assert.equal((await one.claim({ owner: 'dead', limit: 1, now, leaseMs: 1000 })).length, 1);

  // Another process is in the middle of a pass: it holds the sweeper's lock on its connection.
  const holder = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await holder.connect();
  await holder.query('SELECT pg_advisory_lock(1650553447, hashtext(current_schema()))');
  const skipped = await other.sweep({ now: now + 5000, retentionMs: 29 * DAY, chunk: 100 });
  assert.equal(skipped.rescued, 0, 'the lapsed lease waits for the pass in progress');
  // The holder dies: its connection closes and the lock goes with it, so the next pass anywhere takes over.
  await holder.end();
  const taken = await other.sweep({ now: now + 5000, retentionMs: 29 * DAY, chunk: 100 });
  assert.equal(taken.rescued, 1);
});
