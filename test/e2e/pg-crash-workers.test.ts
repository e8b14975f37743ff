// Worker processes dying under load on a PostgreSQL cluster: leases lapse, other workers take the requests over,
// stale completions are fenced out, and every custom_id ends with exactly one result.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { e2eDataDir } from '../helpers/barge-process.ts';
import { assertEndsExactly, clientFor, smallRequests } from '../helpers/e2e-batches.ts';
import { startTestUpstream } from '../helpers/mock-upstream.ts';
import { pgCluster } from '../helpers/pg-cluster.ts';

const WORKER_CONCURRENCY = 16;

test('1 API and 3 worker processes on PostgreSQL, a random worker SIGKILLed every 2 s: one result per custom_id', async (t) => {
  const upstream = await startTestUpstream(t, { latency: { minMs: 20, maxMs: 60 }, seed: 11 });
  const config = join(e2eDataDir(t, 'barge-pg-crash-'), 'barge.json');
  writeFileSync(
    config,
    JSON.stringify({
      backends: {
        up: {
          type: 'anthropic',
          base_url: upstream.url,
          max_concurrency: WORKER_CONCURRENCY,
          max_attempts: 5,
        },
      },
      default: 'up',
    }),
  );
  const cluster = pgCluster(t);
  const workerFlags = [
    '--config',
    config,
    '--concurrency',
    String(WORKER_CONCURRENCY),
    '--lease',
    '3s',
    '--sweep-interval',
    '200ms',
  ];
  const api = await cluster.start('api');
  let workers = await Promise.all([1, 2, 3].map(() => cluster.start('worker', ...workerFlags)));
  const client = clientFor(api.url);

  const N = 10_000;
  const requests = smallRequests('crash', N);
  const batch = await client.messages.batches.create({ requests });
  let kills = 0;
  const killedAt: number[] = [];
  for (;;) {
    await new Promise((r) => setTimeout(r, 2000));
    const b = await client.messages.batches.retrieve(batch.id);
    if (b.processing_status === 'ended') break;
    const victim = workers[Math.floor(Math.random() * workers.length)]!;
    killedAt.push(await cluster.scalar<number>('SELECT count(*) FROM results'));
    assert.equal((await victim.kill9()).signal, 'SIGKILL');
    kills++;
    workers = [...workers.filter((w) => w !== victim), await cluster.start('worker', ...workerFlags)];
    assert.ok(kills <= 30, 'the batch keeps making progress between kills');
  }
  t.diagnostic(`${kills} workers killed, at ${killedAt.join(', ')} of ${N} results`);
  assert.ok(kills >= 2, `at least two workers were killed mid-batch (${kills})`);

  await assertEndsExactly(client, api.url, batch.id, requests, 60_000);
  // The upstream saw every request, and a request more than once only when a kill caught it before its result was
  // written: at most once per kill, and no more in all than the killed workers could hold (claimed and running
  // requests, up to twice the concurrency, plus finished ones whose write was pending).
  const seen = [...upstream.seenCounts().values()];
  assert.equal(seen.length, N, 'every request reached the upstream');
  const max = Math.max(...seen);
  assert.ok(max <= 1 + kills, `no request was sent more than 1 + kills times (max ${max}, kills ${kills})`);
  const extra = seen.reduce((a, n) => a + n - 1, 0);
  assert.ok(
    extra <= kills * 4 * WORKER_CONCURRENCY,
    `repeated calls (${extra}) stay within what ${kills} killed workers could hold`,
  );
  t.diagnostic(`repeated upstream calls: ${extra}`);
});
