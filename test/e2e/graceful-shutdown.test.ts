// Graceful shutdown of a real `barge serve` process: SIGTERM lets in-flight requests finish within the grace, claims
// nothing new, exits 0; a restart finishes the batch with every request run exactly once.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import {
  type BargeProcess,
  countRows,
  e2eServeDir,
  pollUntil,
  readDb,
  recoveryOf,
  startBarge,
} from '../helpers/barge-process.ts';
import {
  assertEndsExactly,
  clientFor,
  createUpload,
  smallRequests,
  startWithClient,
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

/**
 * A server (`first`) with 8 slots, `--shutdown-grace grace` and `--mock-latency latency` on a fresh data directory,
 * and a batch of `n` requests (custom ids `${name}-…`) created on it. `restart()` starts the next server on that
 * directory, with 1 ms requests.
 */
async function serveBatch(t: TestContext, name: string, grace: string, latency: string, n: number) {
  const { dbFile, serveArgs } = e2eServeDir(t, `barge-e2e-${name}-`);
  const base = serveArgs('--concurrency', '8', '--shutdown-grace', grace);
  const { server, client } = await startWithClient(t, [...base, '--mock-latency', latency]);
  const requests = smallRequests(name, n);
  const batch = await client.messages.batches.create({ requests });
  const restart = () => startWithClient(t, [...base, '--mock-latency', '1ms']);
  return { dbFile, first: server, requests, batch, restart };
}

/** Waits until all 8 slots of a `serveBatch` server are in flight. */
// Claimed rows include the requests waiting in their lane for a slot (up to as many again as the slots).
const allSlotsInFlight = (dbFile: string) =>
  pollUntil(() => statesOf(dbFile).running >= 8, 15_000, 'all 8 slots to be in flight');

/** Sends SIGTERM and asserts a clean exit (code 0) within `timeoutMs`. */
async function assertCleanStop(server: BargeProcess, timeoutMs: number): Promise<void> {
  const exit = await server.stop('SIGTERM', timeoutMs);
  assert.deepEqual(exit, { code: 0, signal: null }, `clean exit; stderr: ${server.stderr().slice(-1000)}`);
}

test('SIGTERM mid-batch: in-flight requests finish, exit 0, the restart runs the rest exactly once', async (t) => {
  const { dbFile, first, requests, batch, restart } = await serveBatch(t, 'term', '5s', '300ms', 50);
  // Processing: a first wave has finished and a second is in flight.
  await pollUntil(
    () =>
      countRows(dbFile, 'SELECT count(*) FROM results') >= 8 &&
      countRows(dbFile, 'SELECT count(*) FROM items WHERE state = 1') > 0,
    15_000,
    'the batch to be mid-processing',
  );

  const started = Date.now();
  await assertCleanStop(first, 15_000);
  const took = Date.now() - started;
  assert.ok(took < 5000, `in-flight 300 ms requests drained well within the 5 s grace (took ${took} ms)`);
  assert.ok(
    first.logs.some((l) => l.msg === 'shutting down: no new claims, waiting for in-flight requests'),
    'logged the shutdown',
  );

  const after = statesOf(dbFile);
  assert.equal(after.running, 0, 'no request left claimed');
  assert.ok(after.queued > 0, `no new claims after SIGTERM (${after.queued} still queued)`);
  assert.equal(after.queuedUncounted, after.queued, 'queued requests carry no attempt');
  assert.equal(after.finishedOnce, after.finished, 'every finished request ran once');
  assert.equal(after.results, after.finished, 'every finished request has its result written');
  const atStop = after.finished;

  const { server, client } = await restart();
  assert.equal(recoveryOf(server), undefined, 'a graceful stop leaves nothing to recover');
  await assertEndsExactly(client, server.url, batch.id, requests, 30_000);
  const end = statesOf(dbFile);
  assert.equal(end.finished, 50);
  assert.equal(end.finishedOnce, 50, 'no request was run (counted) twice');
  assert.ok(atStop < 50);
  await assertCleanStop(server, 15_000);
});

test('SIGTERM with --shutdown-grace 0ms: in-flight requests go back to the queue without counting an attempt', async (t) => {
  // Requests take 30 s: exiting quickly proves they were abandoned, not waited for.
  const { dbFile, first, requests, batch, restart } = await serveBatch(t, 'term0', '0ms', '30s', 50);
  await allSlotsInFlight(dbFile);

  const started = Date.now();
  await assertCleanStop(first, 15_000);
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

  const { server, client } = await restart();
  await assertEndsExactly(client, server.url, batch.id, requests, 30_000);
  assert.equal(statesOf(dbFile).finishedOnce, 50, 'each request ran exactly once after the restart');
});

test('a second SIGTERM exits at once; the restart loses nothing', async (t) => {
  const { dbFile, first, requests, batch, restart } = await serveBatch(t, 'term2', '60s', '30s', 20);
  await allSlotsInFlight(dbFile);
  // Every request claimed (8 running, 12 waiting for a slot): a claim still on its way back from storage when the
  // second signal arrives would leave its requests claimed too (found by CI: 20 requeued at restart, not 8).
  await pollUntil(() => statesOf(dbFile).running === 20, 15_000, 'all 20 requests claimed');

  first.child.kill('SIGTERM');
  await first.waitForLog((l) => l.msg?.startsWith('shutting down') === true, 10_000, 'the shutdown log line');
  const exit = await first.stop('SIGTERM', 10_000);
  assert.deepEqual(exit, { code: 1, signal: null }, 'the second signal exits at once, with code 1');
  assert.ok(
    first.logs.some((l) => l.msg?.startsWith('second signal') === true),
    'logged the second signal',
  );

  const { server, client } = await restart();
  assert.equal(recoveryOf(server)?.requeued, 8, 'the 8 abandoned requests went back to the queue');
  await assertEndsExactly(client, server.url, batch.id, requests, 30_000);
});

test('SIGTERM during a stalled upload still exits within the grace period', async (t) => {
  const { dbFile, serveArgs } = e2eServeDir(t, 'barge-e2e-term-upload-');
  const args = serveArgs('--shutdown-grace', '500ms', '--mock-latency', '1ms');
  let server = await startBarge(t, { args });
  // A create that sends part of its body and then goes silent, as a client on a dead link would.
  const req = createUpload(server.port, 10_000_000);
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
  await assertCleanStop(server, 4000);

  server = await startBarge(t, { args });
  assert.deepEqual((await clientFor(server.url).messages.batches.list()).data, [], 'no half batch');
  assert.equal(countRows(dbFile, 'SELECT count(*) FROM items'), 0);
  await assertCleanStop(server, 10_000);
});
