import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { AnthropicBackend } from '../../src/backends/anthropic/anthropic-backend.ts';
import { singleBackendRoutes } from '../../src/backends/backend-routes.ts';
import type { ModelBackend } from '../../src/backends/model-backend.ts';
import { OpenAiBackend } from '../../src/backends/openai/openai-backend.ts';
import { MAX_OUTPUT_TOKENS } from '../../src/mock-upstream/mock-upstream-server.ts';
import type { LaneStatus } from '../../src/worker/lane.ts';
import { pollUntil } from '../helpers/barge-process.ts';
import { startTestUpstream } from '../helpers/mock-upstream.ts';
import { testServer } from '../helpers/test-server.ts';

const REQUESTS = 2000;
const BACKEND_MAX_CONCURRENCY = 8;

for (const protocol of ['anthropic', 'openai'] as const) {
  describe(`dispatch against a faulty ${protocol} upstream`, () => {
    test(`${REQUESTS} requests, 20% 429 / 5% 529 / 5% 500 / 1% hangs: exactly one honest result each`, async (t) => {
      const upstream = await startTestUpstream(t, {
        protocol,
        latency: { minMs: 1, maxMs: 5 },
        faults: { rate429: 0.2, rate529: 0.05, rate500: 0.05, rateReset: 0, rateHang: 0.01 },
        retryAfterSeconds: 0.02,
        seed: protocol === 'anthropic' ? 11 : 12,
      });
      const common = { name: 'up', maxConnections: BACKEND_MAX_CONCURRENCY, attemptTimeoutMs: 1000 };
      const backend: ModelBackend =
        protocol === 'anthropic'
          ? new AnthropicBackend({ ...common, baseUrl: upstream.url, streamAboveMaxTokens: 21_333 })
          : new OpenAiBackend({ ...common, baseUrl: `${upstream.url}/v1` });
      const server = await testServer(
        t,
        { concurrency: 32 },
        {
          routes: singleBackendRoutes({
            name: 'up',
            backend,
            laneLimits: { maxConcurrency: BACKEND_MAX_CONCURRENCY },
            maxConcurrency: BACKEND_MAX_CONCURRENCY,
            maxAttempts: 10,
            // One protocol with the worker owning the attempt deadline (as `--config` sets it up), the other with
            // the backend's own timer: hung calls are cut either way.
            ...(protocol === 'anthropic' && { attemptTimeoutMs: 1000 }),
          }),
        },
      );
      const client = new Anthropic({ baseURL: server.url, apiKey: 'k', maxRetries: 0 });
      const requests = Array.from({ length: REQUESTS }, (_, i) => ({
        custom_id: `q-${i}`,
        params: {
          model: 'local-model',
          max_tokens: 32,
          messages: [{ role: 'user' as const, content: `question ${i}` }],
        },
      }));
      // One request the upstream refuses for good (beyond the model's output limit): a final error, not retried.
      requests[7]!.params.max_tokens = MAX_OUTPUT_TOKENS + 1;
      const batch = await client.messages.batches.create({ requests });
      let ended: Awaited<ReturnType<typeof client.messages.batches.retrieve>>;
      try {
        ended = await pollUntil(
          async () => {
            const b = await client.messages.batches.retrieve(batch.id);
            return b.processing_status === 'ended' ? b : undefined;
          },
          // About 15 s on an idle machine; the margin is for a loaded CI runner.
          240_000,
          'the batch to end',
          100,
        );
      } catch (err) {
        // What the worker was doing when progress stopped, for the CI log.
        const states = (server.store as unknown as { db: { prepare(sql: string): { all(): unknown[] } } }).db
          .prepare('SELECT state, count(*) AS n, min(run_at) AS run_at FROM items GROUP BY state')
          .all();
        const diag = { worker: server.worker.state(), items: states, upstream: upstream.stats() };
        throw new Error(`${(err as Error).message}; ${JSON.stringify(diag)}`);
      }
      const lines: Array<{ custom_id: string; result: unknown & { type: string } }> = [];
      for await (const r of await client.messages.batches.results(batch.id)) lines.push(r);
      assert.equal(lines.length, REQUESTS);
      assert.equal(new Set(lines.map((l) => l.custom_id)).size, REQUESTS, 'one line per custom_id');
      const errored = lines.filter((l) => l.result.type !== 'succeeded');
      assert.deepEqual(
        errored.map((l) => [l.custom_id, l.result]),
        [
          [
            'q-7',
            {
              type: 'errored',
              error: {
                type: 'error',
                error: {
                  type: 'invalid_request_error',
                  message: `max_tokens: ${MAX_OUTPUT_TOKENS + 1} > ${MAX_OUTPUT_TOKENS}, which is the maximum allowed number of output tokens for local-model`,
                },
                request_id: null,
              },
            },
          ],
        ],
        'every transient failure ended succeeded; the final one carries the upstream error',
      );
      assert.deepEqual(ended.request_counts, {
        processing: 0,
        succeeded: REQUESTS - 1,
        errored: 1,
        canceled: 0,
        expired: 0,
      });
      const stats = upstream.stats();
      assert.ok(
        stats.maxInFlight <= BACKEND_MAX_CONCURRENCY,
        `at most ${BACKEND_MAX_CONCURRENCY} in flight at the upstream, saw ${stats.maxInFlight}`,
      );
      assert.ok(stats.faults.injected429 > 0 && stats.faults.overloaded > 0 && stats.faults.apiError > 0);
      assert.ok(stats.faults.hang > 0, 'some calls hung and were timed out');
      assert.equal(stats.distinctBodies, REQUESTS);

      // The lane's dispatch figures, as the extension endpoint reports them.
      const res = await fetch(`${server.url}/barge/v1/lanes`, { headers: { 'x-api-key': 'k' } });
      assert.equal(res.status, 200);
      const { data } = (await res.json()) as { data: LaneStatus[] };
      assert.equal(data.length, 1);
      const lane = data[0]!;
      assert.equal(lane.lane, 'up:local-model');
      assert.equal(lane.inFlight, 0);
      assert.equal(lane.waiting, 0);
      assert.ok(lane.counts.rate_limited > 0 && lane.counts.overloaded > 0 && lane.counts.timeout > 0);
      assert.equal(lane.counts.success, REQUESTS - 1);
      assert.ok(
        lane.calls !== null && lane.calls.count >= stats.requests - stats.faults.hang,
        'every answered call was timed',
      );
      assert.ok(lane.limit >= 1 && lane.limit <= BACKEND_MAX_CONCURRENCY);
    });
  });
}
