// A PostgreSQL restart in the middle of a batch: processes keep running, the API answers 529 overloaded_error while
// the database is away, and the batch still ends with exactly one result per request.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { pollUntil, reportWarnings } from '../helpers/barge-process.ts';
import { API_HEADERS, assertEndsExactly, clientFor, smallRequests } from '../helpers/e2e-batches.ts';
import { pgCluster } from '../helpers/pg-cluster.ts';
import { startPrivatePostgres } from '../helpers/private-postgres.ts';

test('PostgreSQL crashes and restarts mid-batch: 529 meanwhile, then exactly one result per request', async (t) => {
  const pg = await startPrivatePostgres(t);
  const cluster = pgCluster(t, pg.url);
  const api = await cluster.start('api');
  const worker = await cluster.start('worker', '--mock-latency', '10ms-40ms', '--concurrency', '32');
  const client = clientFor(api.url);
  const N = 4000;
  const requests = smallRequests('restart', N);
  const batch = await client.messages.batches.create({ requests });
  const before = await pollUntil(
    async () => {
      const n = await cluster.scalar<number>('SELECT count(*) FROM results');
      return n >= N / 4 ? n : undefined;
    },
    60_000,
    'a quarter of the results before the restart',
    20,
  );
  assert.ok(before < N, 'the batch was still running at the crash');

  pg.crash();
  const res = await request(`${api.url}/v1/messages/batches/${batch.id}`, { headers: API_HEADERS });
  const body = (await res.body.json()) as { type: string; error: { type: string } };
  assert.equal(res.statusCode, 529, 'the API says "overloaded" (retryable) while the database is down');
  assert.equal(body.error.type, 'overloaded_error');
  await new Promise((r) => setTimeout(r, 1500)); // the database stays down for a while, as a real restart would
  pg.start();
  const restartedAt = Date.now();

  try {
    await assertEndsExactly(client, api.url, batch.id, requests, 120_000);
  } catch (err) {
    // What a batch that does not end was waiting for: the database's state, the processes (alive? what they logged)
    // and PostgreSQL's own log.
    const query = async (label: string, sql: string) =>
      t.diagnostic(`${label}: ${JSON.stringify(await cluster.scalar(sql).catch((e: Error) => e.message))}`);
    await query(
      'items by state',
      'SELECT json_object_agg(state, n) FROM (SELECT state, count(*) AS n FROM items GROUP BY state) s',
    );
    await query(
      'batch rows',
      'SELECT json_agg(b) FROM (SELECT id, status, total, pending, succeeded, errored FROM batches) b',
    );
    await query('result rows', 'SELECT count(*) FROM results');
    await query(
      'pg_stat_activity',
      `SELECT json_agg(a) FROM (SELECT pid, application_name, state, now() - xact_start AS xact_age,
         left(query, 80) AS query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()) a`,
    );
    reportWarnings(t, [api, worker], restartedAt);
    for (const line of pg.logTail(30)) t.diagnostic(`postgres: ${line}`);
    for (const p of [api, worker]) {
      t.diagnostic(
        `pid ${p.pid}: exit ${p.child.exitCode} signal ${p.child.signalCode}; stderr: ${p.stderr().slice(-1500)}`,
      );
      // Everything it logged since the restart (info level too): what it did, or stopped doing.
      for (const l of p.logs.filter((x) => Number(x.time) >= restartedAt).slice(-40)) {
        t.diagnostic(`pid ${p.pid} +${Number(l.time) - restartedAt} ms [${l.level}] ${l.msg}`);
      }
    }
    throw err;
  }
  for (const p of [api, worker]) {
    assert.equal(p.child.exitCode, null, `process ${p.pid} is still running`);
    assert.equal(p.child.signalCode, null);
  }
  assert.ok(
    worker.logs.some((l) => l.msg === 'event connection to PostgreSQL restored'),
    'the worker re-opened its LISTEN connection',
  );
});
