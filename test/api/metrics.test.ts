import assert from 'node:assert/strict';
import { test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { request } from 'undici';
import { createApiKey } from '../../src/auth/api-keys.ts';
import { pollUntil } from '../helpers/barge-process.ts';
import { parsePrometheusText, type Sample, sampleValue as value } from '../helpers/prometheus-text.ts';
import { testServer } from '../helpers/test-server.ts';

async function scrape(url: string, key?: string): Promise<Sample[]> {
  const res = await request(`${url}/metrics`, { headers: key ? { 'x-api-key': key } : {} });
  const text = await res.body.text();
  assert.equal(res.statusCode, 200, text);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const { samples, types } = parsePrometheusText(text);
  assert.equal(types.get('barge_upstream_latency_seconds'), 'histogram');
  assert.equal(types.get('barge_requests_finished_total'), 'counter');
  return samples;
}

test('/metrics parses as Prometheus text and its counters and gauges move with the work', async (t) => {
  const server = await testServer(t, { auth: 'keys', mockErrorRate: 0.2 }, { startWorker: false });
  const key = await createApiKey(server.store, 'w', Date.now());
  const unauthenticated = await request(`${server.url}/metrics`);
  assert.equal(unauthenticated.statusCode, 401, 'behind the same keys as the API');
  await unauthenticated.body.dump();

  const before = await scrape(server.url, key.secret);
  assert.equal(value(before, 'barge_claims_total'), 0);

  const client = new Anthropic({ baseURL: server.url, apiKey: key.secret, maxRetries: 0 });
  const requests = Array.from({ length: 40 }, (_, i) => ({
    custom_id: `m-${i}`,
    params: {
      model: 'claude-metrics',
      max_tokens: 8,
      messages: [{ role: 'user' as const, content: `hi ${i}` }],
    },
  }));
  const batch = await client.messages.batches.create({ requests });
  const queued = await scrape(server.url, key.secret);
  assert.equal(value(queued, 'barge_batches', { status: 'in_progress' }), 1);
  assert.equal(value(queued, 'barge_queue_depth', { lane: 'mock:claude-metrics' }), 40);
  assert.equal(value(queued, 'barge_ingest_requests_total'), 40);
  assert.ok(value(queued, 'barge_ingest_bytes_total') > 40 * 50, 'the body bytes are counted');

  server.worker.start();
  const ended = await pollUntil(
    async () => {
      const b = await client.messages.batches.retrieve(batch.id);
      return b.processing_status === 'ended' ? b : undefined;
    },
    30_000,
    'the batch to end',
  );
  const after = await scrape(server.url, key.secret);
  assert.equal(
    value(after, 'barge_requests_finished_total', { outcome: 'succeeded' }),
    ended.request_counts.succeeded,
  );
  assert.equal(
    value(after, 'barge_requests_finished_total', { outcome: 'errored' }),
    ended.request_counts.errored,
  );
  assert.ok(ended.request_counts.errored > 0, 'the error rate produced some errored results');
  assert.equal(value(after, 'barge_claims_total'), 40);
  const total = after.filter((x) => x.name === 'barge_upstream_calls_total').reduce((n, x) => n + x.value, 0);
  assert.equal(total, 40, 'one call per request (the built-in model makes one attempt)');
  assert.equal(
    value(after, 'barge_upstream_latency_seconds_count', { backend: 'mock', model: 'claude-metrics' }),
    40,
  );
  const buckets = after
    .filter((x) => x.name === 'barge_upstream_latency_seconds_bucket')
    .map((x) => [x.labels.le, x.value] as const);
  assert.deepEqual(buckets.at(-1), ['+Inf', 40]);
  assert.ok(
    buckets.every(([, v], i) => i === 0 || v >= buckets[i - 1]![1]),
    'histogram buckets are cumulative',
  );
  assert.equal(value(after, 'barge_batches', { status: 'ended' }), 1);
  assert.equal(value(after, 'barge_queue_depth', { lane: 'mock:claude-metrics' }), 0);
  assert.equal(
    value(after, 'barge_lane_concurrency_limit', { backend: 'mock', model: 'claude-metrics' }),
    64,
  );

  // The worker stops, so the next batch is certain to be canceled before any of it runs.
  await server.worker.stop(0);
  const second = await client.messages.batches.create({ requests: requests.slice(0, 5) });
  await client.messages.batches.cancel(second.id);
  await server.sweeper.drain();
  const secondEnded = await pollUntil(
    async () => {
      const b = await client.messages.batches.retrieve(second.id);
      return b.processing_status === 'ended' ? b : undefined;
    },
    30_000,
    'the canceled batch to end',
  );
  const last = await scrape(server.url, key.secret);
  for (const outcome of ['succeeded', 'errored', 'canceled'] as const) {
    assert.equal(
      value(last, 'barge_requests_finished_total', { outcome }),
      ended.request_counts[outcome] + secondEnded.request_counts[outcome],
      `${outcome} requests over both batches`,
    );
  }
});
