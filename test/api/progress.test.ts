import assert from 'node:assert/strict';
import { test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { request } from 'undici';
import type { MessageBatch } from '../../src/wire/message-batch.ts';
import { pollUntil } from '../helpers/barge-process.ts';
import { testServer } from '../helpers/test-server.ts';

const H = { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' };

function requests(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    custom_id: `p-${i}`,
    params: {
      model: i % 3 === 0 ? 'local-llama' : 'claude-sonnet-4-5',
      max_tokens: 8 + (i % 5),
      messages: [{ role: 'user' as const, content: `tell me about ${i}` }],
    },
  }));
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await request(url, { headers: H });
  return { status: res.statusCode, body: (await res.body.json()) as T };
}

interface Progress {
  processing_status: string;
  total: number;
  request_counts: MessageBatch['request_counts'];
  eta_seconds: number | null;
  requests_per_second: number;
  usage: { requests: number; input_tokens: number; output_tokens: number };
  cost: { currency: string; batch: number; standard: number };
  by_model: Array<{
    model: string;
    usage: { input_tokens: number; output_tokens: number };
    cost: { batch: number };
  }>;
}

/** Reads a Server-Sent Events response to its end, returning each event's name and parsed data. */
async function readEvents(url: string): Promise<Array<{ event: string; data: Progress }>> {
  const res = await request(url, { headers: H });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/event-stream/);
  const text = await res.body.text();
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? '';
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? 'null';
      return { event, data: JSON.parse(data) as Progress };
    });
}

test('progress: live counts, SSE to the end, usage and cost equal to the result lines, request lookup', async (t) => {
  const server = await testServer(
    t,
    { concurrency: 2, mockLatency: { minMs: 15, maxMs: 15 }, mockErrorRate: 0.2 },
    { startWorker: false },
  );
  const client = new Anthropic({ baseURL: server.url, apiKey: 'k', maxRetries: 0 });
  const batch = await client.messages.batches.create({ requests: requests(60) });
  const base = `${server.url}/barge/v1/batches/${batch.id}`;

  const idle = await getJson<Progress>(`${base}/progress`);
  assert.equal(idle.status, 200);
  assert.deepEqual(idle.body.request_counts, {
    processing: 60,
    succeeded: 0,
    errored: 0,
    canceled: 0,
    expired: 0,
  });
  assert.equal(idle.body.eta_seconds, null);
  assert.deepEqual(idle.body.cost, { currency: 'USD', batch: 0, standard: 0 });

  const events = readEvents(`${base}/progress/stream`);
  server.worker.start();
  // Mid-run: progress shows finished requests while the contract's counts still say "processing".
  const mid = await pollUntil(
    async () => {
      const p = (await getJson<Progress>(`${base}/progress`)).body;
      const wire = await client.messages.batches.retrieve(batch.id);
      return p.request_counts.processing < 60 && wire.processing_status === 'in_progress'
        ? { p, wire }
        : undefined;
    },
    20_000,
    'a moment with some requests finished and the batch still running',
    5,
  );
  assert.equal(mid.wire.request_counts.processing, 60, 'the contract keeps every request at processing');
  assert.equal(mid.wire.request_counts.succeeded, 0);
  assert.ok(mid.p.requests_per_second > 0);
  assert.ok(mid.p.eta_seconds !== null && mid.p.eta_seconds >= 0);

  const stream = await events;
  assert.equal(stream.at(-1)?.event, 'end');
  const progressEvents = stream.filter((e) => e.event === 'progress').map((e) => e.data);
  assert.ok(progressEvents.length >= 2, 'several progress events while it ran');
  const last = progressEvents.at(-1)!;
  const ended = await client.messages.batches.retrieve(batch.id);
  assert.equal(ended.processing_status, 'ended');
  assert.deepEqual(last.request_counts, ended.request_counts, 'the stream ends with the final counts');
  assert.ok(ended.request_counts.errored > 0 && ended.request_counts.succeeded > 0);
  const finished = progressEvents.map((p) => 60 - p.request_counts.processing);
  assert.deepEqual(
    finished,
    [...finished].sort((a, b) => a - b),
    'counts only grow',
  );

  // Usage and cost equal the sums over the result lines (errored requests cost nothing).
  const sums = new Map<string, { input: number; output: number; n: number }>();
  for await (const r of await client.messages.batches.results(batch.id)) {
    if (r.result.type !== 'succeeded') continue;
    const m = r.result.message;
    const s = sums.get(m.model) ?? { input: 0, output: 0, n: 0 };
    s.input += m.usage.input_tokens;
    s.output += m.usage.output_tokens;
    s.n++;
    sums.set(m.model, s);
  }
  const final = (await getJson<Progress>(`${base}/progress`)).body;
  assert.equal(final.usage.requests, ended.request_counts.succeeded);
  assert.equal(
    final.usage.input_tokens,
    [...sums.values()].reduce((a, s) => a + s.input, 0),
  );
  assert.equal(
    final.usage.output_tokens,
    [...sums.values()].reduce((a, s) => a + s.output, 0),
  );
  const sonnet = sums.get('claude-sonnet-4-5')!;
  const standard = (sonnet.input * 3 + sonnet.output * 15) / 1e6;
  assert.ok(
    Math.abs(final.cost.standard - standard) < 1e-5,
    `standard cost ${final.cost.standard} vs ${standard}`,
  );
  assert.ok(Math.abs(final.cost.batch - standard / 2) < 1e-5, 'batch prices are half');
  const local = final.by_model.find((m) => m.model === 'local-llama');
  assert.equal(local?.usage.input_tokens, sums.get('local-llama')?.input);
  assert.equal(local?.cost.batch, 0, 'a local model costs nothing');
  const workspace = await getJson<{ usage: Progress['usage']; cost: Progress['cost'] }>(
    `${server.url}/barge/v1/usage`,
  );
  assert.deepEqual(workspace.body.usage, final.usage);
  assert.deepEqual(workspace.body.cost, final.cost);

  // One request by custom_id: its state, attempts, last error and result.
  const errored = await findErrored(client, batch.id);
  const one = await getJson<{ state: string; attempts: number; result: { type: string } }>(
    `${base}/requests/${encodeURIComponent(errored)}`,
  );
  assert.equal(one.status, 200);
  assert.equal(one.body.state, 'errored');
  assert.equal(one.body.attempts, 1);
  assert.equal(one.body.result.type, 'errored');
  const missing = await getJson<{ error: { type: string } }>(`${base}/requests/nope`);
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.type, 'not_found_error');
  const otherBatch = await getJson<{ error: { type: string } }>(
    `${server.url}/barge/v1/batches/msgbatch_01AAAAAAAAAAAAAAAAAAAAAAAA/progress`,
  );
  assert.equal(otherBatch.status, 404);
});

async function findErrored(client: Anthropic, id: string): Promise<string> {
  for await (const r of await client.messages.batches.results(id))
    if (r.result.type === 'errored') return r.custom_id;
  throw new Error('no errored result');
}

test('--live-counts: request_counts show outcomes while the batch runs', async (t) => {
  const server = await testServer(t, {
    concurrency: 1,
    mockLatency: { minMs: 10, maxMs: 10 },
    liveCounts: true,
  });
  const client = new Anthropic({ baseURL: server.url, apiKey: 'k', maxRetries: 0 });
  const batch = await client.messages.batches.create({ requests: requests(40) });
  const running = await pollUntil(
    async () => {
      const b = await client.messages.batches.retrieve(batch.id);
      return b.processing_status === 'in_progress' && b.request_counts.succeeded > 0 ? b : undefined;
    },
    20_000,
    'live counts while running',
    5,
  );
  const c = running.request_counts;
  assert.equal(
    c.processing + c.succeeded + c.errored + c.canceled + c.expired,
    40,
    'the counts sum to the total',
  );
});
