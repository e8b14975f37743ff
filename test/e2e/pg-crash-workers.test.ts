// Worker processes dying under load on a PostgreSQL cluster: leases lapse, other workers take the requests over,
// stale completions are fenced out, and every custom_id ends with exactly one result.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bodyHash } from '../../src/mock-upstream/upstream-stats.ts';
import { e2eDataDir, reportWarnings } from '../helpers/barge-process.ts';
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
  const killTimes: number[] = [];
  const t0 = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 2000));
    const b = await client.messages.batches.retrieve(batch.id);
    if (b.processing_status === 'ended') break;
    const victim = workers[Math.floor(Math.random() * workers.length)]!;
    killedAt.push(await cluster.scalar<number>('SELECT count(*) FROM results'));
    killTimes.push(Date.now());
    assert.equal((await victim.kill9()).signal, 'SIGKILL');
    kills++;
    workers = [...workers.filter((w) => w !== victim), await cluster.start('worker', ...workerFlags)];
    assert.ok(kills <= 30, 'the batch keeps making progress between kills');
  }
  t.diagnostic(`${kills} workers killed, at ${killedAt.join(', ')} of ${N} results`);
  assert.ok(kills >= 2, `at least two workers were killed mid-batch (${kills})`);
  // Warnings and errors of every process, against the kill times: rescues soon after a kill are the killed worker's
  // requests; others would be live workers that lost their leases (a starved machine), or storage errors.
  try {
    await assertEndsExactly(client, api.url, batch.id, requests, 60_000);
  } finally {
    t.diagnostic(`kills at +${killTimes.map((k) => k - t0).join(', +')} ms`);
    reportWarnings(t, cluster.processes, t0);
  }
  const rescues = cluster.processes.flatMap((p) =>
    p.logs.flatMap((l) => (typeof l.rescued === 'number' ? [l.rescued] : [])),
  );
  // The upstream saw every request, and each call was a claim of its own: a claim counts an attempt in storage and
  // nothing here gives one back (these requests meet no upstream faults, so no 429), so no request reached the
  // upstream more often than its attempts. A request is claimed again only once its lease lapsed and a sweeper
  // requeued it: the repeated calls are within the requests rescued (some of which were claimed but not yet sent).
  const seen = upstream.seenCounts();
  assert.equal(seen.size, N, 'every request reached the upstream');
  const attempts = await cluster.scalar<Record<string, number>>(
    'SELECT json_object_agg(custom_id, attempts) FROM items',
  );
  // The upstream knows a request by the SHA-1 of its body: the params exactly as the SDK sent them.
  const idOf = new Map(requests.map((r) => [bodyHash(JSON.stringify(r.params)), r.custom_id]));
  const over = [...seen].filter(([hash, n]) => n > (attempts[idOf.get(hash) ?? ''] ?? 0));
  assert.deepEqual(over.slice(0, 5), [], 'no request was sent twice within one claim');
  const rescued = rescues.reduce((a, n) => a + n, 0);
  assert.ok(rescued > 0, 'the killed workers held requests that sweepers rescued');
  const extra = [...seen.values()].reduce((a, n) => a + n - 1, 0);
  assert.ok(extra <= rescued, `repeated calls (${extra}) are requests whose lease was rescued (${rescued})`);
  t.diagnostic(`repeated upstream calls: ${extra}; requests rescued: ${rescued} in ${rescues.length} sweeps`);
});
