// The mock upstream's Anthropic face through the official SDK: message shape, determinism, streaming, errors and
// the rate-limit headers of a budget (on a manual clock, so the numbers are exact).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic, { AuthenticationError, BadRequestError, RateLimitError } from '@anthropic-ai/sdk';
import AnthropicV0 from 'anthropic-sdk-0';
import type { MockUpstream } from '../../src/mock-upstream/mock-upstream-server.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { startTestUpstream } from '../helpers/mock-upstream.ts';

type Obj = Record<string, unknown>;

const start = startTestUpstream;

const client = (u: MockUpstream, apiKey = 'test-key') =>
  new Anthropic({ baseURL: u.url, apiKey, maxRetries: 0, timeout: 10_000 });

const params = (text: string, extra: Obj = {}): Anthropic.MessageCreateParamsNonStreaming => ({
  model: 'claude-mock-1',
  max_tokens: 256,
  messages: [{ role: 'user', content: text }],
  ...extra,
});

/** The SDK's own enumerable addition to a streamed final message. */
function withoutParsedOutput(m: object): Obj {
  const { parsed_output: _drop, ...rest } = m as Obj;
  return rest;
}

function sseEvents(text: string): { event: string; data: Obj }[] {
  return text
    .split('\n\n')
    .filter((chunk) => chunk.trim() !== '')
    .map((chunk) => {
      const [eventLine, dataLine, ...more] = chunk.split('\n');
      assert.equal(more.length, 0, `one event and one data line: ${chunk}`);
      assert.match(eventLine!, /^event: /);
      assert.match(dataLine!, /^data: /);
      return { event: eventLine!.slice(7), data: JSON.parse(dataLine!.slice(6)) as Obj };
    });
}

describe('mock upstream, anthropic protocol', () => {
  let u: MockUpstream;
  before(async () => {
    u = await start(null);
  });
  after(() => u.close());

  it('answers a Message of the hosted shape, deterministically', async () => {
    const c = client(u);
    const { data: m, response } = await c.messages.create(params('Tell me about batches.')).withResponse();
    assert.equal(response.status, 200);
    assert.match(response.headers.get('request-id') ?? '', /^req_\w+$/);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.match(m.id, /^msg_\w+$/);
    assert.equal(m.type, 'message');
    assert.equal(m.role, 'assistant');
    assert.equal(m.model, 'claude-mock-1');
    assert.equal(m.content[0]?.type, 'text');
    assert.match((m.content[0] as Anthropic.TextBlock).text, /^You said: "Tell me about batches\."/);
    assert.ok(['end_turn', 'max_tokens'].includes(m.stop_reason!));
    assert.ok(m.usage.input_tokens > 0 && m.usage.output_tokens > 0);
    assert.equal(m.usage.service_tier, 'standard', 'a Messages API answer, not a batch result');

    const again = await c.messages.create(params('Tell me about batches.'));
    assert.deepEqual(again, m, 'the same request gives the same message');
    const other = await c.messages.create(params('Something else entirely.'));
    assert.notEqual(other.id, m.id);
  });

  for (const [name, p] of [
    ['text', params('Stream me a paragraph, please.')],
    [
      'tool_use',
      params('Use a tool.', {
        tools: [
          {
            name: 'lookup',
            description: 'Looks things up',
            input_schema: {
              type: 'object',
              properties: { query: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 9 } },
              required: ['query'],
            },
          },
        ],
        tool_choice: { type: 'any' },
      }),
    ],
    [
      'thinking',
      params('Think first.', { max_tokens: 400, thinking: { type: 'enabled', budget_tokens: 40 } }),
    ],
    ['max_tokens', params('Cut me short.', { max_tokens: 5 })],
  ] as const) {
    it(`streams a ${name} message whose final form equals the non-streamed one`, async () => {
      const c = client(u);
      const plain = await c.messages.create(p);
      const streamed = await c.messages.stream(p).finalMessage();
      assert.deepEqual(withoutParsedOutput(streamed), plain);
      if (name === 'tool_use') assert.equal(plain.stop_reason, 'tool_use');
      if (name === 'thinking') assert.equal(plain.content[0]?.type, 'thinking');
      if (name === 'max_tokens') assert.equal(plain.stop_reason, 'max_tokens');
    });
  }

  it('frames the stream like the hosted API: event lines, message_start … message_stop', async () => {
    const res = await fetch(`${u.url}/v1/messages`, {
      method: 'POST',
      headers: { 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ ...params('Hello stream.'), stream: true }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = sseEvents(await res.text());
    for (const e of events) assert.equal(e.event, e.data.type, 'the event line names the data type');
    const names = events.map((e) => e.event);
    assert.deepEqual(names.slice(0, 3), ['message_start', 'content_block_start', 'ping']);
    assert.deepEqual(names.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
    const deltas = events.filter((e) => e.event === 'content_block_delta');
    assert.ok(deltas.length > 1, 'the text comes in several pieces');
    const start = events[0]!.data.message as Obj;
    assert.deepEqual(start.content, []);
    assert.equal(start.stop_reason, null);
    assert.equal((start.usage as Obj).output_tokens, 1);
    const delta = events.at(-2)!.data;
    assert.ok(((delta.usage as Obj).output_tokens as number) > 1);
  });

  it('accepts x-api-key (0.x SDKs) and Bearer (1.x SDKs) when a key is required, and rejects others', async (t) => {
    const keyed = await start(t, { requireApiKey: 'sk-right' });
    const v1 = await client(keyed, 'sk-right').messages.create(params('hi'));
    assert.equal(v1.type, 'message');
    const v0 = new AnthropicV0({ baseURL: keyed.url, apiKey: 'sk-right', maxRetries: 0 });
    assert.equal((await v0.messages.create(params('hi'))).id, v1.id, 'same request, same message');
    await assert.rejects(client(keyed, 'sk-wrong').messages.create(params('hi')), (err: unknown) => {
      assert.ok(err instanceof AuthenticationError);
      assert.equal(err.status, 401);
      assert.equal(err.type, 'authentication_error');
      return true;
    });
    assert.equal(keyed.stats().byStatus['401'], 1);
  });

  it('rejects a missing anthropic-version, bad JSON and missing fields with 400 invalid_request_error', async () => {
    const post = async (headers: Record<string, string>, body: string) => {
      const res = await fetch(`${u.url}/v1/messages`, { method: 'POST', headers, body });
      const json = (await res.json()) as {
        type: string;
        error: { type: string; message: string };
        request_id: string;
      };
      assert.equal(json.type, 'error');
      assert.equal(json.request_id, res.headers.get('request-id'), 'request_id matches the header');
      return { status: res.status, error: json.error };
    };
    const noVersion = await post({}, JSON.stringify(params('hi')));
    assert.deepEqual(noVersion, {
      status: 400,
      error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' },
    });
    const version = { 'anthropic-version': '2023-06-01' };
    const badJson = await post(version, '{"model":');
    assert.equal(badJson.status, 400);
    assert.equal(badJson.error.type, 'invalid_request_error');
    const { max_tokens: _m, ...noMax } = params('hi');
    assert.equal((await post(version, JSON.stringify(noMax))).error.message, 'max_tokens: Field required');
    const { model: _model, ...noModel } = params('hi');
    assert.equal((await post(version, JSON.stringify(noModel))).error.message, 'model: Field required');
    const { messages: _msgs, ...noMessages } = params('hi');
    assert.equal((await post(version, JSON.stringify(noMessages))).error.message, 'messages: Field required');

    await assert.rejects(
      client(u).messages.create({ ...params('hi'), max_tokens: 0 }),
      (err: unknown) => err instanceof BadRequestError && err.status === 400,
    );
    const unknown = await fetch(`${u.url}/v1/complete`, { method: 'POST', body: '{}' });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { type: string } }).error.type, 'not_found_error');
  });
});

describe('mock upstream, anthropic rate-limit budget', () => {
  it('sends anthropic-ratelimit-* headers that count down, then 429 with retry-after until the bucket refills', async (t) => {
    const clock = new ManualClock(); // 2026-11-25T12:00:00Z
    const u = await start(t, {
      clock,
      budget: { requestsPerMinute: 3, inputTokensPerMinute: 10_000, outputTokensPerMinute: 20_000 },
    });
    const c = client(u);
    const p = params('Count my tokens.');
    let spentIn = 0;
    let spentOut = 0;
    for (const left of [2, 1, 0]) {
      const { data: m, response } = await c.messages.create(p).withResponse();
      spentIn += m.usage.input_tokens;
      spentOut += m.usage.output_tokens;
      const h = (name: string) => response.headers.get(`anthropic-ratelimit-${name}`);
      assert.equal(h('requests-limit'), '3');
      assert.equal(h('requests-remaining'), String(left));
      // 3 per minute refill one every 20 s: the bucket is full again 20 s per spent request from now.
      assert.equal(
        h('requests-reset'),
        new Date(Date.UTC(2026, 10, 25, 12, 0, (3 - left) * 20)).toISOString().replace('.000Z', 'Z'),
      );
      assert.equal(h('input-tokens-limit'), '10000');
      assert.equal(h('input-tokens-remaining'), String(10_000 - spentIn));
      assert.equal(h('output-tokens-limit'), '20000');
      assert.equal(h('output-tokens-remaining'), String(20_000 - spentOut));
      assert.equal(h('tokens-limit'), '30000');
      assert.equal(h('tokens-remaining'), String(30_000 - spentIn - spentOut));
      assert.match(h('input-tokens-reset') ?? '', /^2026-11-25T12:00:\d\dZ$/);
    }
    await assert.rejects(c.messages.create(p), (err: unknown) => {
      assert.ok(err instanceof RateLimitError);
      assert.equal(err.status, 429);
      assert.equal(err.type, 'rate_limit_error');
      assert.equal(err.headers.get('retry-after'), '20');
      assert.equal(err.headers.get('anthropic-ratelimit-requests-remaining'), '0');
      return true;
    });
    clock.advance(19_999);
    await assert.rejects(c.messages.create(p), (err: unknown) => {
      assert.ok(err instanceof RateLimitError);
      assert.equal(err.headers.get('retry-after'), '1', 'whole seconds, rounded up');
      return true;
    });
    clock.advance(1);
    const ok = await c.messages.create(p);
    assert.equal(ok.type, 'message');
    assert.equal(u.stats().faults.budget429, 2);
    assert.deepEqual(u.stats().byStatus, { '200': 4, '429': 2 });
  });

  it('refuses on output tokens by the message actual usage', async (t) => {
    const clock = new ManualClock();
    const u = await start(t, { clock, budget: { outputTokensPerMinute: 60 } });
    const c = client(u);
    const p = params('Write a lot.', { max_tokens: 50 });
    const first = await c.messages.create(p);
    assert.equal(first.usage.output_tokens, 50);
    await assert.rejects(c.messages.create(p), (err: unknown) => {
      assert.ok(err instanceof RateLimitError);
      // 10 left of 60 per minute: 40 more tokens take 40 s.
      assert.equal(err.headers.get('retry-after'), '40');
      assert.match(String(err.message), /output tokens/);
      return true;
    });
    clock.advance(40_000);
    assert.equal((await c.messages.create(p)).id, first.id);
  });
});
