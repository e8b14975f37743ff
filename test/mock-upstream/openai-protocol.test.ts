// The mock upstream's OpenAI face with raw HTTP: chat completions, tool calls, stop sequences, length, errors and
// the x-ratelimit-* headers; plus the pure translation functions of the shim.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { request } from 'undici';
import type { MockUpstream, MockUpstreamOptions } from '../../src/mock-upstream/mock-upstream-server.ts';
import { chatRequestToParams, goDuration } from '../../src/mock-upstream/openai-shim.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { NO_FAULTS, startTestUpstream } from '../helpers/mock-upstream.ts';

type Obj = Record<string, unknown>;

interface Completion {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: {
    index: number;
    message: {
      role: string;
      content: string | null;
      tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
    };
    finish_reason: string;
    stop_reason: string | null;
  }[];
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    prompt_tokens_details: { cached_tokens: number };
  };
}

interface ErrorBody {
  error: { message: string; type: string; param: null; code: string | null };
}

const start = (t: TestContext | null, over: Partial<MockUpstreamOptions> = {}) =>
  startTestUpstream(t, { protocol: 'openai', ...over });

async function chat(u: MockUpstream, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(`${u.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: JSON.parse(text) as unknown };
}

const user = (content: unknown, extra: Obj = {}) => ({
  model: 'mock-chat',
  messages: [{ role: 'user', content }],
  ...extra,
});

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

describe('mock upstream, openai protocol', () => {
  const clock = new ManualClock(Date.parse('2026-11-25T12:00:00.500Z'));
  let u: MockUpstream;
  before(async () => {
    u = await start(null, { clock });
  });
  after(() => u.close());

  it('answers a chat.completion with usage and a vLLM-style stop_reason', async () => {
    const r = await chat(u, {
      model: 'mock-chat',
      messages: [
        { role: 'system', content: 'You are terse and precise.' },
        { role: 'user', content: 'Hello from the chat side.' },
      ],
    });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.match(String(r.headers['x-request-id']), /^req_/);
    const c = r.json as Completion;
    assert.match(c.id, /^chatcmpl-\w+$/);
    assert.equal(c.object, 'chat.completion');
    assert.equal(c.created, Math.floor(clock.now() / 1000));
    assert.equal(c.model, 'mock-chat');
    assert.equal(c.choices.length, 1);
    const choice = c.choices[0]!;
    assert.equal(choice.index, 0);
    assert.equal(choice.message.role, 'assistant');
    assert.match(
      choice.message.content!,
      /^You said: "Hello from the chat side\."\. \[system: You are terse/,
    );
    assert.equal(choice.message.tool_calls, undefined);
    assert.equal(choice.finish_reason, 'stop');
    assert.equal(choice.stop_reason, null);
    assert.ok(c.usage.prompt_tokens > 0 && c.usage.completion_tokens > 0);
    assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + c.usage.completion_tokens);
    assert.deepEqual(c.usage.prompt_tokens_details, { cached_tokens: 0 });
    const again = await chat(u, {
      model: 'mock-chat',
      messages: [
        { role: 'system', content: 'You are terse and precise.' },
        { role: 'user', content: 'Hello from the chat side.' },
      ],
    });
    assert.deepEqual(again.json, c, 'deterministic');
  });

  it('calls a tool with JSON-string arguments, then reads the tool result back', async () => {
    const first = await chat(u, user('What is the weather?', { tools: [WEATHER], tool_choice: 'required' }));
    assert.equal(first.status, 200);
    const c = first.json as Completion;
    const choice = c.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls');
    const call = choice.message.tool_calls?.[0];
    assert.ok(call, 'a tool call');
    assert.match(call.id, /^call_\w+$/);
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.equal(typeof call.function.arguments, 'string');
    assert.equal(typeof (JSON.parse(call.function.arguments) as { city: unknown }).city, 'string');

    const second = await chat(u, {
      model: 'mock-chat',
      tools: [WEATHER],
      messages: [
        { role: 'user', content: 'What is the weather?' },
        { role: 'assistant', content: choice.message.content, tool_calls: choice.message.tool_calls },
        { role: 'tool', tool_call_id: call.id, content: '{"temp_c": 21}' },
      ],
    });
    assert.equal(second.status, 200);
    const answer = (second.json as Completion).choices[0]!;
    assert.equal(answer.finish_reason, 'stop');
    assert.match(answer.message.content!, /Thanks for the tool result\./);

    const forced = await chat(
      u,
      user('Anything.', {
        tools: [WEATHER, { type: 'function', function: { name: 'other', parameters: { type: 'object' } } }],
        tool_choice: { type: 'function', function: { name: 'other' } },
      }),
    );
    assert.equal((forced.json as Completion).choices[0]!.message.tool_calls?.[0]?.function.name, 'other');
  });

  it('stops at a stop sequence (finish_reason stop, the string in stop_reason) and at max_tokens (length)', async () => {
    const stopped = (await chat(u, user('Stop early please.', { stop: 'said' }))).json as Completion;
    assert.equal(stopped.choices[0]!.message.content, 'You ');
    assert.equal(stopped.choices[0]!.finish_reason, 'stop');
    assert.equal(stopped.choices[0]!.stop_reason, 'said');

    const short = (await chat(u, user('Be long.', { max_tokens: 3 }))).json as Completion;
    assert.equal(short.choices[0]!.finish_reason, 'length');
    assert.equal(short.choices[0]!.stop_reason, null);
    assert.equal(short.usage.completion_tokens, 3);
    const newer = (await chat(u, user('Be long.', { max_completion_tokens: 2 }))).json as Completion;
    assert.equal(newer.usage.completion_tokens, 2);
  });

  it('answers errors in the OpenAI shape', async () => {
    const bad = await chat(u, '{"model":');
    assert.equal(bad.status, 400);
    const b = bad.json as ErrorBody;
    assert.deepEqual(Object.keys(b.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(b.error.type, 'invalid_request_error');
    assert.equal(b.error.param, null);

    const noModel = await chat(u, { messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(noModel.status, 400);
    assert.match((noModel.json as ErrorBody).error.message, /model/);
    const badRole = await chat(u, { model: 'm', messages: [{ role: 'wizard', content: 'hi' }] });
    assert.equal(badRole.status, 400);

    const missing = await request(`${u.url}/v1/completions`, { method: 'POST', body: '{}' });
    assert.equal(missing.statusCode, 404);
    assert.equal(((await missing.body.json()) as ErrorBody).error.type, 'invalid_request_error');
  });
});

describe('mock upstream, openai faults, auth and budget', () => {
  it('401 with a wrong bearer key, 200 with the right one', async (t) => {
    const u = await start(t, { requireApiKey: 'sk-open' });
    const wrong = await chat(u, user('hi'), { authorization: 'Bearer sk-nope' });
    assert.equal(wrong.status, 401);
    assert.equal((wrong.json as ErrorBody).error.code, 'invalid_api_key');
    assert.equal((await chat(u, user('hi'), { authorization: 'Bearer sk-open' })).status, 200);
  });

  it('injected faults: 429 with retry-after, 503 for overloaded, 500', async (t) => {
    const cases = [
      { faults: { rate429: 1 }, status: 429, type: 'requests', code: 'rate_limit_exceeded' },
      { faults: { rate529: 1 }, status: 503, type: 'server_error', code: null },
      { faults: { rate500: 1 }, status: 500, type: 'server_error', code: null },
    ];
    for (const c of cases) {
      const u = await start(t, { faults: { ...NO_FAULTS, ...c.faults }, retryAfterSeconds: 3 });
      const r = await chat(u, user('hi'));
      assert.equal(r.status, c.status);
      const e = (r.json as ErrorBody).error;
      assert.equal(e.type, c.type);
      assert.equal(e.code, c.code);
      assert.equal(e.param, null);
      if (c.status === 429) assert.equal(r.headers['retry-after'], '3');
    }
  });

  it('sends x-ratelimit-* headers with Go-style durations and refuses beyond the budget', async (t) => {
    const clock = new ManualClock();
    const u = await start(t, {
      clock,
      budget: { requestsPerMinute: 10, inputTokensPerMinute: 60_000, outputTokensPerMinute: 60_000 },
    });
    const r = await chat(u, user('Count me.'));
    assert.equal(r.status, 200);
    const { prompt_tokens: p, completion_tokens: c } = (r.json as Completion).usage;
    assert.equal(r.headers['x-ratelimit-limit-requests'], '10');
    assert.equal(r.headers['x-ratelimit-remaining-requests'], '9');
    assert.equal(r.headers['x-ratelimit-reset-requests'], '6s', '10 per minute: one back every 6 s');
    assert.equal(r.headers['x-ratelimit-limit-tokens'], '120000');
    assert.equal(r.headers['x-ratelimit-remaining-tokens'], String(120_000 - p - c));
    // 60000 per minute refill one token per ms: full again after max(p, c) ms.
    assert.equal(r.headers['x-ratelimit-reset-tokens'], `${Math.max(p, c)}ms`);

    const tight = await start(t, { clock, budget: { requestsPerMinute: 1 } });
    assert.equal((await chat(tight, user('one'))).status, 200);
    const refused = await chat(tight, user('two'));
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['retry-after'], '60');
    assert.equal(refused.headers['x-ratelimit-reset-requests'], '1m0s');
    assert.equal((refused.json as ErrorBody).error.type, 'requests');
    assert.equal(tight.stats().faults.budget429, 1);
  });
});

describe('openai shim', () => {
  it('formats durations like Go', () => {
    assert.equal(goDuration(0), '0s');
    assert.equal(goDuration(12), '12ms');
    assert.equal(goDuration(11.2), '12ms', 'rounded up');
    assert.equal(goDuration(1000), '1s');
    assert.equal(goDuration(1500), '1.5s');
    assert.equal(goDuration(360_000), '6m0s');
    assert.equal(goDuration(3_723_000), '1h2m3s');
  });

  it('translates a chat request into Anthropic params', () => {
    const t = chatRequestToParams({
      model: 'm',
      max_tokens: 99,
      stop: 'END',
      tools: [WEATHER],
      tool_choice: 'required',
      messages: [
        { role: 'system', content: 'Sys one.' },
        { role: 'developer', content: [{ type: 'text', text: 'Dev two.' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Look:' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
        { role: 'user', content: 'And tomorrow?' },
      ],
    });
    assert.ok(t.ok);
    assert.deepEqual(t.params, {
      model: 'm',
      max_tokens: 99,
      system: 'Sys one.\nDev two.',
      stop_sequences: ['END'],
      tool_choice: { type: 'any' },
      tools: [
        {
          name: 'get_weather',
          description: 'Current weather',
          input_schema: WEATHER.function.parameters,
        },
      ],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Look:' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
          ],
        },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Oslo' } }],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'call_1', content: 'sunny' },
            { type: 'text', text: 'And tomorrow?' },
          ],
        },
      ],
    });
  });

  it('maps tool_choice values and refuses what it cannot translate', () => {
    const choice = (tool_choice: unknown) => {
      const t = chatRequestToParams(user('x', { tool_choice }));
      return t.ok ? t.params.tool_choice : t.message;
    };
    assert.deepEqual(choice('none'), { type: 'none' });
    assert.deepEqual(choice('auto'), { type: 'auto' });
    assert.deepEqual(choice({ type: 'function', function: { name: 'f' } }), { type: 'tool', name: 'f' });
    assert.match(String(choice('sometimes')), /tool_choice/);

    const refused = (body: unknown) => {
      const t = chatRequestToParams(body);
      assert.equal(t.ok, false);
      return t.ok ? '' : t.message;
    };
    assert.match(refused({ messages: [] }), /model/);
    assert.match(refused({ model: 'm', messages: [] }), /messages/);
    assert.match(refused(user('x', { stream: true })), /stream/);
    assert.match(refused(user('x', { max_tokens: 0 })), /max_tokens/);
    assert.match(
      refused({
        model: 'm',
        messages: [
          {
            role: 'assistant',
            tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } }],
          },
        ],
      }),
      /arguments/,
    );
  });
});
