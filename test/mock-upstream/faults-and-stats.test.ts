// Injected faults, their repeatability, and the counters tests of Barge rely on (max in flight, bodies seen).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  InternalServerError,
  RateLimitError,
} from '@anthropic-ai/sdk';
import { request } from 'undici';
import {
  bodyHash,
  type MockUpstream,
  type MockUpstreamOptions,
  type MockUpstreamStats,
  startMockUpstream,
} from '../../src/mock-upstream/mock-upstream-server.ts';
import { pollUntil } from '../helpers/barge-process.ts';
import { NO_FAULTS, startTestUpstream } from '../helpers/mock-upstream.ts';

const start = startTestUpstream;

const client = (u: MockUpstream, timeout = 10_000) =>
  new Anthropic({ baseURL: u.url, apiKey: 'k', maxRetries: 0, timeout });

const params = (text: string): Anthropic.MessageCreateParamsNonStreaming => ({
  model: 'claude-mock-1',
  max_tokens: 64,
  messages: [{ role: 'user', content: text }],
});

const faults = (over: Partial<MockUpstreamOptions['faults']>) => ({ ...NO_FAULTS, ...over });

describe('mock upstream faults', () => {
  it('rate-429 = 1: every request gets 429 rate_limit_error with the configured retry-after', async (t) => {
    const u = await start(t, { faults: faults({ rate429: 1 }), retryAfterSeconds: 7 });
    await assert.rejects(client(u).messages.create(params('a')), (err: unknown) => {
      assert.ok(err instanceof RateLimitError);
      assert.equal(err.type, 'rate_limit_error');
      assert.equal(err.headers.get('retry-after'), '7');
      assert.match(err.requestID ?? '', /^req_/);
      return true;
    });
    assert.equal(u.stats().faults.injected429, 1);
    assert.equal(u.stats().faults.budget429, 0);
  });

  it('rate-529 = 1: 529 overloaded_error', async (t) => {
    const u = await start(t, { faults: faults({ rate529: 1 }) });
    await assert.rejects(client(u).messages.create(params('a')), (err: unknown) => {
      assert.ok(err instanceof InternalServerError);
      assert.equal(err.status, 529);
      assert.equal(err.type, 'overloaded_error');
      return true;
    });
    assert.equal(u.stats().faults.overloaded, 1);
    assert.deepEqual(u.stats().byStatus, { '529': 1 });
  });

  it('rate-500 = 1: 500 api_error', async (t) => {
    const u = await start(t, { faults: faults({ rate500: 1 }) });
    await assert.rejects(client(u).messages.create(params('a')), (err: unknown) => {
      assert.ok(err instanceof InternalServerError);
      assert.equal(err.status, 500);
      assert.equal(err.type, 'api_error');
      return true;
    });
    assert.equal(u.stats().faults.apiError, 1);
  });

  it('rate-reset = 1: the connection drops without an answer', async (t) => {
    const u = await start(t, { faults: faults({ rateReset: 1 }) });
    await assert.rejects(client(u).messages.create(params('a')), (err: unknown) => {
      assert.ok(err instanceof APIConnectionError);
      assert.ok(!(err instanceof APIConnectionTimeoutError), 'a reset, not a timeout');
      return true;
    });
    const s = u.stats();
    assert.equal(s.faults.reset, 1);
    assert.deepEqual(s.byStatus, {}, 'no status was sent');
    await pollUntil(() => u.stats().inFlight === 0, 5_000, 'the reset request to leave in-flight');
  });

  it('rate-hang = 1: never answered, so the client times out', async (t) => {
    const u = await start(t, { faults: faults({ rateHang: 1 }) });
    await assert.rejects(client(u, 300).messages.create(params('a')), APIConnectionTimeoutError);
    assert.equal(u.stats().faults.hang, 1);
    // The client gave up and closed its socket: the request is no longer in flight.
    await pollUntil(() => u.stats().inFlight === 0, 5_000, 'the abandoned request to leave in-flight');
  });

  it('close() destroys hung sockets, so a client waiting without a timeout fails at once', async (t) => {
    const u = await start(t, { faults: faults({ rateHang: 1 }) });
    const pending = request(`${u.url}/v1/messages`, {
      method: 'POST',
      headers: { 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify(params('hang on')),
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    const outcome = pending.then(
      () => 'answered',
      () => 'socket error',
    );
    await pollUntil(() => u.stats().inFlight === 1, 5_000, 'the hung request to arrive');
    await u.close();
    assert.equal(await outcome, 'socket error');
  });

  it('the same seed gives the same fault sequence; another seed a different one', async (t) => {
    const run = async (seed: number) => {
      const u = await start(t, { seed, faults: faults({ rate429: 0.3, rate500: 0.2 }) });
      const statuses: number[] = [];
      for (let i = 0; i < 24; i++) {
        const res = await request(`${u.url}/v1/messages`, {
          method: 'POST',
          headers: { 'anthropic-version': '2023-06-01' },
          body: JSON.stringify(params(`request ${i}`)),
        });
        await res.body.dump();
        statuses.push(res.statusCode);
      }
      return statuses;
    };
    const a = await run(42);
    assert.deepEqual(await run(42), a);
    assert.ok(a.includes(200) && a.includes(429) && a.includes(500), `a mix of outcomes: ${a}`);
    assert.notDeepEqual(await run(43), a);
  });

  it('rejects impossible options', async () => {
    const base: MockUpstreamOptions = {
      host: '127.0.0.1',
      port: 0,
      protocol: 'anthropic',
      latency: { minMs: 0, maxMs: 0 },
      budget: {},
      faults: NO_FAULTS,
      retryAfterSeconds: 1,
    };
    await assert.rejects(
      startMockUpstream({ ...base, faults: faults({ rate429: 0.6, rate500: 0.6 }) }),
      /add up/,
    );
    await assert.rejects(
      startMockUpstream({ ...base, faults: faults({ rateHang: -0.1 }) }),
      /between 0 and 1/,
    );
    await assert.rejects(startMockUpstream({ ...base, latency: { minMs: 10, maxMs: 5 } }), /latency/);
    await assert.rejects(startMockUpstream({ ...base, budget: { requestsPerMinute: 0 } }), /positive/);
  });
});

describe('mock upstream stats', () => {
  it('counts the maximum in flight under concurrent requests', async (t) => {
    // A fixed latency long enough that all 20 are open at once even on a busy machine.
    const u = await start(t, { latency: { minMs: 400, maxMs: 400 } });
    const c = client(u);
    const done = await Promise.all(Array.from({ length: 20 }, (_, i) => c.messages.create(params(`c${i}`))));
    assert.equal(done.length, 20);
    const s = u.stats();
    assert.equal(s.maxInFlight, 20);
    assert.equal(s.requests, 20);
    assert.deepEqual(s.byStatus, { '200': 20 });
    await pollUntil(() => u.stats().inFlight === 0, 5_000, 'in-flight to drop to 0');
  });

  it('counts each distinct body; serves the counters at /_mock/stats and resets them at /_mock/reset', async (t) => {
    const u = await start(t);
    const c = client(u);
    const twice = params('seen twice');
    await c.messages.create(twice);
    await c.messages.create(twice);
    await c.messages.create(params('seen once'));
    const s = u.stats();
    assert.equal(s.distinctBodies, 2);
    assert.equal(s.maxSeenPerBody, 2);
    // The SDK sends compact JSON, so the hash of JSON.stringify(params) is the key.
    assert.equal(u.seenCounts().get(bodyHash(JSON.stringify(twice))), 2);
    assert.equal(u.seenCounts().get(bodyHash(JSON.stringify(params('seen once')))), 1);

    const served = (await (await fetch(`${u.url}/_mock/stats`)).json()) as MockUpstreamStats;
    assert.deepEqual(served, u.stats());
    assert.equal(served.requests, 3);

    const reset = await fetch(`${u.url}/_mock/reset`, { method: 'POST' });
    assert.equal(reset.status, 200);
    const after = u.stats();
    assert.equal(after.requests, 0);
    assert.equal(after.distinctBodies, 0);
    assert.equal(after.maxInFlight, 0);
    assert.deepEqual(after.byStatus, {});
    assert.equal(u.seenCounts().size, 0);
  });
});
