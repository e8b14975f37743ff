// Graceful shutdown of a real `barge serve` process: SIGTERM lets in-flight requests finish within the grace, claims
// nothing new, exits 0; a restart finishes the batch with every request run exactly once.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { countRows, e2eDataDir, pollUntil, readDb, startBarge } from '../helpers/barge-process.ts';
import {
  API_HEADERS,
  assertExactResults,
  clientFor,
  smallRequests,
  waitEnded,
} from '../helpers/e2e-batches.ts';

const STATES = `SELECT
  sum(state = 0) AS queued, sum(state = 1) AS running, sum(state >= 2) AS finished,
  sum(state = 0 AND attempts = 0) AS queuedUncounted, sum(state >= 2 AND attempts = 1) AS finishedOnce,
  (SELECT count(*) FROM results) AS results
  FROM items`;
interface States {
  queued: number;
  running: number;
  finished: number;
  queuedUncounted: number;
  finishedOnce: number;
  results: number;
}
const statesOf = (dbFile: string) => readDb(dbFile, (db) => db.prepare(STATES).get() as States);

test('SIGTERM mid-batch: in-flight requests finish, exit 0, the restart runs the rest exactly once', async (t) => {
  const dataDir = e2eDataDir(t, 'barge-e2e-term-');
  const dbFile = join(dataDir, 'barge.db');
  const base = ['--data-dir', dataDir, '--log-level', 'info', '--concurrency', '8', '--shutdown-grace', '5s'];
  let server = await startBarge(t, { args: [...base, '--mock-latency', '300ms'] });
  let client = clientFor(server.url);

  const requests = smallRequests('term', 50);
  const batch = await client.messages.batches.create({ requests });
  // Processing: a first wave has finished and a second is in flight.
  await pollUntil(
    () =>
      countRows(dbFile, 'SELECT count(*) FROM results') >= 8 &&
      countRows(dbFile, 'SELECT count(*) FROM items WHERE state = 1') > 0,
    15_000,
    'the batch to be mid-processing',
  );

  const started = Date.now();
  const exit = await server.stop('SIGTERM', 15_000);
  const took = Date.now() - started;
  assert.deepEqual(exit, { code: 0, signal: null }, `clean exit; stderr: ${server.stderr().slice(-1000)}`);
  assert.ok(took < 5000, `in-flight 300 ms requests drained well within the 5 s grace (took ${took} ms)`);
  assert.ok(
    server.logs.some((l) => l.msg === 'shutting down: no new claims, waiting for in-flight requests'),
    'logged the shutdown',
  );

  const after = statesOf(dbFile);
  assert.equal(after.running, 0, 'no request left claimed');
  assert.ok(after.queued > 0, `no new claims after SIGTERM (${after.queued} still queued)`);
  assert.equal(after.queuedUncounted, after.queued, 'queued requests carry no attempt');
  assert.equal(after.finishedOnce, after.finished, 'every finished request ran once');
  assert.equal(after.results, after.finished, 'every finished request has its result written');
  const atStop = after.finished;

  server = await startBarge(t, { args: [...base, '--mock-latency', '1ms'] });
  client = clientFor(server.url);
  assert.equal(
    server.logs.find((l) => l.msg === 'recovered after an unclean stop'),
    undefined,
    'a graceful stop leaves nothing to recover',
  );
  await waitEnded(client, batch.id, 30_000);
  await assertExactResults(
    client,
    server.url,
    batch.id,
    requests.map((r) => r.custom_id),
  );
  const end = statesOf(dbFile);
  assert.equal(end.finished, 50);
  assert.equal(end.finishedOnce, 50, 'no request was run (counted) twice');
  assert.ok(atStop < 50);
  assert.deepEqual(await server.stop('SIGTERM', 15_000), { code: 0, signal: null });
});

test('SIGTERM with --shutdown-grace 0ms: in-flight requests go back to the queue without counting an attempt', async (t) => {
  const dataDir = e2eDataDir(t, 'barge-e2e-term0-');
  const dbFile = join(dataDir, 'barge.db');
  const base = [
    '--data-dir',
    dataDir,
    '--log-level',
    'info',
    '--concurrency',
    '8',
    '--shutdown-grace',
    '0ms',
  ];
  // Requests take 30 s: exiting quickly proves they were abandoned, not waited for.
  let server = await startBarge(t, { args: [...base, '--mock-latency', '30s'] });
  let client = clientFor(server.url);
  const requests = smallRequests('term0', 50);
  const batch = await client.messages.batches.create({ requests });
  await pollUntil(() => statesOf(dbFile).running === 8, 15_000, 'all 8 slots to be in flight');

  const started = Date.now();
  const exit = await server.stop('SIGTERM', 15_000);
  assert.deepEqual(exit, { code: 0, signal: null }, `clean exit; stderr: ${server.stderr().slice(-1000)}`);
  assert.ok(Date.now() - started < 10_000, 'did not wait for the 30 s requests');
  const after = statesOf(dbFile);
  assert.deepEqual(
    {
      queued: after.queued,
      running: after.running,
      uncounted: after.queuedUncounted,
      results: after.results,
    },
    { queued: 50, running: 0, uncounted: 50, results: 0 },
    'every request is back in the queue with no attempt counted',
  );

  server = await startBarge(t, { args: [...base, '--mock-latency', '1ms'] });
  client = clientFor(server.url);
  await waitEnded(client, batch.id, 30_000);
  await assertExactResults(
    client,
    server.url,
    batch.id,
    requests.map((r) => r.custom_id),
  );
  assert.equal(statesOf(dbFile).finishedOnce, 50, 'each request ran exactly once after the restart');
});

test('a second SIGTERM exits at once; the restart loses nothing', async (t) => {
  const dataDir = e2eDataDir(t, 'barge-e2e-term2-');
  const dbFile = join(dataDir, 'barge.db');
  const base = [
    '--data-dir',
    dataDir,
    '--log-level',
    'info',
    '--concurrency',
    '8',
    '--shutdown-grace',
    '60s',
  ];
  let server = await startBarge(t, { args: [...base, '--mock-latency', '30s'] });
  let client = clientFor(server.url);
  const requests = smallRequests('term2', 20);
  const batch = await client.messages.batches.create({ requests });
  await pollUntil(() => statesOf(dbFile).running === 8, 15_000, 'all 8 slots to be in flight');

  server.child.kill('SIGTERM');
  await server.waitForLog(
    (l) => l.msg?.startsWith('shutting down') === true,
    10_000,
    'the shutdown log line',
  );
  const exit = await server.stop('SIGTERM', 10_000);
  assert.deepEqual(exit, { code: 1, signal: null }, 'the second signal exits at once, with code 1');
  assert.ok(
    server.logs.some((l) => l.msg?.startsWith('second signal') === true),
    'logged the second signal',
  );

  server = await startBarge(t, { args: [...base, '--mock-latency', '1ms'] });
  client = clientFor(server.url);
  const recovered = server.logs.find((l) => l.msg === 'recovered after an unclean stop');
  assert.equal(recovered?.requeued, 8, 'the 8 abandoned requests went back to the queue');
  await waitEnded(client, batch.id, 30_000);
  await assertExactResults(
    client,
    server.url,
    batch.id,
    requests.map((r) => r.custom_id),
  );
});

test('SIGTERM during a stalled upload still exits within the grace period', async (t) => {
  const dataDir = e2eDataDir(t, 'barge-e2e-term-upload-');
  const dbFile = join(dataDir, 'barge.db');
  const args = [
    '--data-dir',
    dataDir,
    '--log-level',
    'info',
    '--shutdown-grace',
    '500ms',
    '--mock-latency',
    '1ms',
  ];
  let server = await startBarge(t, { args });
  // A create that sends part of its body and then goes silent, as a client on a dead link would.
  const req = httpRequest({
    host: '127.0.0.1',
    port: server.port,
    method: 'POST',
    path: '/v1/messages/batches',
    headers: { ...API_HEADERS, 'content-type': 'application/json', 'content-length': 10_000_000 },
  });
  req.on('error', () => {});
  t.after(() => req.destroy());
  const part = smallRequests('stalled', 2500).map((r) => JSON.stringify(r));
  req.write(`{"requests":[${part.join(',')}`);
  await pollUntil(
    () => countRows(dbFile, `SELECT count(*) FROM batches WHERE status = 'ingesting'`) === 1,
    10_000,
    'the server to stage the first part of the upload',
  );

  // Generous next to the 500 ms grace, far below Fastify's 15 min request timeout.
  const exit = await server.stop('SIGTERM', 4000);
  assert.deepEqual(exit, { code: 0, signal: null });

  server = await startBarge(t, { args });
  assert.deepEqual((await clientFor(server.url).messages.batches.list()).data, [], 'no half batch');
  assert.equal(countRows(dbFile, 'SELECT count(*) FROM items'), 0);
  assert.deepEqual(await server.stop('SIGTERM', 10_000), { code: 0, signal: null });
});
