// SIGKILL of a server dispatching to a real HTTP upstream that rate-limits and fails now and then: retries in the
// queue, calls in flight and results in the spool all cross two crashes, and every custom_id still ends with exactly
// one result.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { countRows, e2eServeDir, pollUntil, recoveryOf } from '../helpers/barge-process.ts';
import { assertExactResults, smallRequests, startWithClient, waitEnded } from '../helpers/e2e-batches.ts';
import { startTestUpstream } from '../helpers/mock-upstream.ts';

test('SIGKILL twice while dispatching to a flaky upstream: exactly one result per custom_id, all succeeded', async (t) => {
  const upstream = await startTestUpstream(t, {
    latency: { minMs: 5, maxMs: 20 },
    faults: { rate429: 0.1, rate529: 0, rate500: 0.05, rateReset: 0.01, rateHang: 0 },
    retryAfterSeconds: 0.05,
    seed: 3,
  });
  const { dataDir, dbFile, serveArgs } = e2eServeDir(t, 'barge-e2e-crash-upstream-');
  const config = join(dataDir, 'barge.json');
  writeFileSync(
    config,
    JSON.stringify({
      backends: { up: { type: 'anthropic', base_url: upstream.url, max_concurrency: 16, max_attempts: 20 } },
      default: 'up',
    }),
  );
  const args = serveArgs('--config', config, '--concurrency', '16');
  let { server, client } = await startWithClient(t, args);

  const N = 1500;
  const requests = smallRequests('up', N);
  const batch = await client.messages.batches.create({ requests });
  let previous = 0;
  for (const fraction of [0.3, 0.7]) {
    const target = Math.floor(N * fraction);
    const done = await pollUntil(
      () => {
        const n = countRows(dbFile, 'SELECT count(*) FROM results');
        return n >= target ? n : undefined;
      },
      60_000,
      `${target} of ${N} results before the SIGKILL at ${fraction * 100}%`,
      10,
    );
    assert.equal((await server.kill9()).signal, 'SIGKILL');
    assert.ok(done > previous && done < N, `killed mid-batch (${done} of ${N})`);
    previous = done;
    ({ server, client } = await startWithClient(t, args));
    assert.ok(recoveryOf(server), 'the restart recovered the requests the dead process held');
  }
  const ended = await waitEnded(client, batch.id, 90_000);
  assert.deepEqual(ended.request_counts, {
    processing: 0,
    succeeded: N,
    errored: 0,
    canceled: 0,
    expired: 0,
  });
  await assertExactResults(
    client,
    server.url,
    batch.id,
    requests.map((r) => r.custom_id),
  );
  const stats = upstream.stats();
  assert.ok(stats.faults.injected429 > 0 && stats.faults.apiError > 0, 'the upstream did fail now and then');
  assert.ok(stats.maxInFlight <= 16, `never more than the backend's 16 in flight (${stats.maxInFlight})`);
});
