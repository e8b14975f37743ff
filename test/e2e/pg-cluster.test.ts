// Several processes on one PostgreSQL database: stateless API processes, and fairness between batches.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pollUntil } from '../helpers/barge-process.ts';
import { clientFor, rawResults, smallRequests, waitEnded } from '../helpers/e2e-batches.ts';
import { countsWith } from '../helpers/message-batch.ts';
import { pgCluster } from '../helpers/pg-cluster.ts';

test('API processes are stateless: create through one, retrieve, list, cancel, download and delete through another', async (t) => {
  const cluster = pgCluster(t);
  const [a, b] = await Promise.all([cluster.start('api'), cluster.start('api')]);
  const viaA = clientFor(a!.url);
  const viaB = clientFor(b!.url);

  // No worker yet: both batches stay queued, so the cancel below is certain to find work to cancel.
  const first = await viaA.messages.batches.create({ requests: smallRequests('first', 20) });
  const second = await viaA.messages.batches.create({ requests: smallRequests('second', 30) });
  const seen = await viaB.messages.batches.retrieve(first.id);
  assert.equal(seen.id, first.id);
  assert.deepEqual(seen.request_counts, countsWith({ processing: 20 }));
  const listed = await viaB.messages.batches.list({ limit: 10 });
  assert.deepEqual(
    listed.data.map((x) => x.id),
    [second.id, first.id],
  );
  const canceling = await viaB.messages.batches.cancel(second.id);
  assert.equal(canceling.processing_status, 'canceling');

  await cluster.start('worker', '--mock-latency', '5ms', '--sweep-interval', '100ms');
  const ended = await waitEnded(viaB, first.id, 30_000);
  assert.deepEqual(ended.request_counts, countsWith({ succeeded: 20 }));
  assert.equal(ended.results_url, `${b!.url}/v1/messages/batches/${first.id}/results`);
  const canceled = await waitEnded(viaA, second.id, 30_000);
  assert.deepEqual(canceled.request_counts, countsWith({ canceled: 30 }));

  const lines = (await rawResults(b!.url, first.id)).trim().split('\n');
  assert.deepEqual(
    lines.map((l) => JSON.parse(l).custom_id).sort(),
    smallRequests('first', 20)
      .map((r) => r.custom_id)
      .sort(),
  );
  const viaSdk: string[] = [];
  for await (const r of await viaA.messages.batches.results(second.id)) viaSdk.push(r.result.type);
  assert.equal(viaSdk.length, 30);
  assert.ok(viaSdk.every((x) => x === 'canceled'));

  await viaB.messages.batches.delete(first.id);
  await assert.rejects(
    viaA.messages.batches.retrieve(first.id),
    (err: { status?: number }) => err.status === 404,
  );
});

test('fairness: a 10-request batch created while a 50,000-request batch runs ends long before it', async (t) => {
  const cluster = pgCluster(t);
  const api = await cluster.start('api');
  await cluster.start('worker', '--mock-latency', '10ms-30ms', '--concurrency', '32');
  const client = clientFor(api.url);
  const big = await client.messages.batches.create({ requests: smallRequests('big', 50_000) });
  // Wait until the big batch is really being worked on, so the small one arrives behind a full queue.
  await waitProgress(cluster, 500);
  const small = await client.messages.batches.create({ requests: smallRequests('small', 10) });
  const smallEnded = await waitEnded(client, small.id, 60_000);
  assert.deepEqual(smallEnded.request_counts, countsWith({ succeeded: 10 }));
  const bigNow = await client.messages.batches.retrieve(big.id);
  const bigDone = await cluster.scalar<number>('SELECT count(*) FROM results');
  assert.equal(bigNow.processing_status, 'in_progress', 'the big batch is still running');
  assert.ok(
    bigDone - 10 < 25_000,
    `the small batch did not wait for the big one (${bigDone - 10} of 50,000 done)`,
  );
  t.diagnostic(`small batch ended after ${bigDone - 10} of the big batch's 50,000 requests`);
});

function waitProgress(cluster: ReturnType<typeof pgCluster>, n: number): Promise<number> {
  return pollUntil(
    async () => {
      const done = await cluster.scalar<number>('SELECT count(*) FROM results');
      return done >= n ? done : undefined;
    },
    60_000,
    `${n} results`,
    50,
  );
}
