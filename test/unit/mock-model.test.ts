import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MockBackend } from '../../src/backends/mock/mock-backend.ts';
import { mockMessage } from '../../src/backends/mock/mock-message.ts';
import { Prng } from '../../src/backends/mock/prng.ts';
import { schemaInstance } from '../../src/backends/mock/schema-instance.ts';
import { seedFromBytes, seedFromText } from '../../src/backends/mock/seed.ts';
import { countTokens, cutAtTokens } from '../../src/backends/mock/text-tokens.ts';
import type { BackendRequest } from '../../src/backends/model-backend.ts';

type Obj = Record<string, unknown>;
type Block = Record<string, unknown>;

const base = (text = 'Hello there, how are you today?', extra: Obj = {}): Obj => ({
  model: 'claude-sonnet-4-5',
  max_tokens: 1024,
  messages: [{ role: 'user', content: text }],
  ...extra,
});

function request(params: Obj, over: Partial<BackendRequest> = {}): BackendRequest {
  return {
    customId: 'c1',
    params,
    rawParams: new TextEncoder().encode(JSON.stringify(params)),
    apiVersion: '2023-06-01',
    betas: [],
    attempt: 1,
    signal: new AbortController().signal,
    ...over,
  };
}

const blocks = (m: Obj): Block[] => m.content as Block[];
const textOf = (m: Obj): string =>
  blocks(m)
    .filter((b) => b.type === 'text')
    .map((b) => b.text as string)
    .join('');
const usage = (m: Obj): Obj => m.usage as Obj;

/** Output tokens per the mock's rule: text, thinking and tool input JSON. */
function emittedTokens(m: Obj): number {
  let n = 0;
  for (const b of blocks(m)) {
    if (b.type === 'text') n += countTokens(b.text as string);
    else if (b.type === 'thinking') n += countTokens(b.thinking as string);
    else if (b.type === 'tool_use') n += countTokens(JSON.stringify(b.input));
  }
  return n;
}

/** A small JSON Schema checker for the generator's output: returns the problems found. */
function check(schema: unknown, value: unknown, root: unknown = schema, path = '$'): string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  const s = schema as Obj;
  const out: string[] = [];
  if (typeof s.$ref === 'string') {
    const target = s.$ref
      .slice(2)
      .split('/')
      .reduce<unknown>((node, k) => (node as Obj)[k], root);
    return check(target, value, root, path);
  }
  if ('const' in s && JSON.stringify(s.const) !== JSON.stringify(value)) out.push(`${path}: not const`);
  if (Array.isArray(s.enum) && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    out.push(`${path}: not in enum`);
  }
  if (Array.isArray(s.anyOf) && !s.anyOf.some((a) => check(a, value, root, path).length === 0)) {
    out.push(`${path}: matches no anyOf`);
  }
  if (Array.isArray(s.oneOf) && !s.oneOf.some((a) => check(a, value, root, path).length === 0)) {
    out.push(`${path}: matches no oneOf`);
  }
  if (Array.isArray(s.allOf)) for (const a of s.allOf) out.push(...check(a, value, root, path));
  const types = s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
  const actual =
    value === null
      ? 'null'
      : Array.isArray(value)
        ? 'array'
        : Number.isInteger(value)
          ? 'integer'
          : typeof value === 'object'
            ? 'object'
            : typeof value;
  if (types.length && !types.some((t) => t === actual || (t === 'number' && actual === 'integer'))) {
    out.push(`${path}: expected ${types.join('|')}, got ${actual}`);
  }
  if (typeof value === 'string') {
    if (typeof s.minLength === 'number' && value.length < s.minLength) out.push(`${path}: too short`);
    if (typeof s.maxLength === 'number' && value.length > s.maxLength) out.push(`${path}: too long`);
    if (s.format === 'date-time' && Number.isNaN(Date.parse(value))) out.push(`${path}: bad date-time`);
    if (s.format === 'email' && !/^[^@\s]+@[^@\s]+\.[a-z]+$/.test(value)) out.push(`${path}: bad email`);
    if (s.format === 'uri' && !URL.canParse(value)) out.push(`${path}: bad uri`);
    if (
      s.format === 'uuid' &&
      !/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(value)
    ) {
      out.push(`${path}: bad uuid`);
    }
  }
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) out.push(`${path}: below minimum`);
    if (typeof s.maximum === 'number' && value > s.maximum) out.push(`${path}: above maximum`);
    if (typeof s.exclusiveMinimum === 'number' && value <= s.exclusiveMinimum) {
      out.push(`${path}: not above min`);
    }
    if (typeof s.exclusiveMaximum === 'number' && value >= s.exclusiveMaximum) {
      out.push(`${path}: not below max`);
    }
    if (typeof s.multipleOf === 'number' && value % s.multipleOf !== 0) out.push(`${path}: not a multiple`);
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems) out.push(`${path}: too few items`);
    if (typeof s.maxItems === 'number' && value.length > s.maxItems) out.push(`${path}: too many items`);
    if (s.uniqueItems === true && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) {
      out.push(`${path}: duplicate items`);
    }
    value.forEach((v, i) => {
      out.push(...check(s.items, v, root, `${path}[${i}]`));
    });
  }
  if (actual === 'object') {
    const v = value as Obj;
    for (const r of (s.required as string[] | undefined) ?? [])
      if (!(r in v)) out.push(`${path}.${r}: missing`);
    const props = (s.properties as Obj | undefined) ?? {};
    for (const [k, sub] of Object.entries(props))
      if (k in v) out.push(...check(sub, v[k], root, `${path}.${k}`));
  }
  return out;
}

const weatherTool = {
  name: 'get_weather',
  description: 'Current weather',
  input_schema: {
    type: 'object',
    properties: {
      location: { type: 'string', minLength: 2, maxLength: 40 },
      unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
      days: { type: 'integer', minimum: 1, maximum: 7 },
      when: { type: 'string', format: 'date-time' },
      contact: { type: 'string', format: 'email' },
      link: { type: 'string', format: 'uri' },
      detailed: { type: 'boolean' },
      ratio: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
      tags: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: 3 },
      nested: {
        type: 'object',
        properties: { a: { type: ['integer', 'null'], multipleOf: 5, minimum: 3 }, b: { const: 'fixed' } },
        required: ['a', 'b'],
      },
      choice: { anyOf: [{ type: 'string', format: 'uuid' }, { type: 'integer' }] },
      kind: { oneOf: [{ type: 'string', enum: ['x', 'y'] }, { type: 'null' }] },
      color: { type: 'string', default: 'red' },
      nothing: { type: 'null' },
    },
    required: ['location', 'unit', 'tags', 'nested'],
  },
};
const searchTool = {
  name: 'search_docs',
  input_schema: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
};

describe('mock model: determinism and shape', () => {
  it('gives the same message for the same params and a different one for different params', () => {
    const a = mockMessage(base());
    assert.deepEqual(mockMessage(base()), a);
    const b = mockMessage(base('Hello there, how are you tomorrow?'));
    assert.notEqual(b.id, a.id);
    assert.notEqual(textOf(b), textOf(a));
  });

  it('derives the seed from the raw bytes, matching the default seed for compact JSON', async () => {
    const params = base('Grüße 👋 from the test');
    const bytes = new TextEncoder().encode(JSON.stringify(params));
    assert.deepEqual(seedFromText(JSON.stringify(params)), seedFromBytes(bytes));
    const backend = new MockBackend({ latency: { minMs: 0, maxMs: 0 }, errorRate: 0 });
    const first = await backend.send(request(params));
    const second = await backend.send(request(params, { attempt: 2 }));
    assert.equal(first.type, 'succeeded');
    assert.deepEqual(second, first);
    assert.deepEqual(first.type === 'succeeded' && first.message, mockMessage(params));
  });

  it('returns a full Message', () => {
    const m = mockMessage(base());
    assert.match(m.id as string, /^msg_01[1-9A-HJ-NP-Za-km-z]{22}$/);
    assert.equal(m.type, 'message');
    assert.equal(m.role, 'assistant');
    assert.equal(m.model, 'claude-sonnet-4-5');
    assert.equal(m.stop_reason, 'end_turn');
    assert.equal(m.stop_sequence, null);
    assert.equal(m.container, null);
    assert.equal(m.stop_details, null);
    assert.deepEqual(
      blocks(m).map((b) => [b.type, b.citations]),
      [['text', null]],
    );
    assert.deepEqual(Object.keys(usage(m)).sort(), [
      'cache_creation',
      'cache_creation_input_tokens',
      'cache_read_input_tokens',
      'inference_geo',
      'input_tokens',
      'output_tokens',
      'server_tool_use',
      'service_tier',
    ]);
    assert.equal(usage(m).service_tier, 'batch');
    assert.deepEqual(usage(m).cache_creation, { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 });
  });

  it('echoes the model and the prompt', () => {
    const m = mockMessage({ ...base('What is the capital of France?'), model: 'my-local-model' });
    assert.equal(m.model, 'my-local-model');
    assert.ok(textOf(m).startsWith('You said: "What is the capital of France?".'), textOf(m));
  });

  it('writes 20 to 80 filler words of natural length', () => {
    for (let i = 0; i < 30; i++) {
      const words = textOf(mockMessage(base(`prompt ${i}`))).split(/\s+/).length;
      assert.ok(words >= 23 && words <= 90, `${words}`);
    }
  });
});

describe('mock model: usage', () => {
  it('counts output tokens from the emitted text', () => {
    for (const text of ['Hi', 'A much longer prompt, with punctuation!', 'Grüße 👋 — ok?']) {
      const m = mockMessage(base(text));
      assert.equal(usage(m).output_tokens, countTokens(textOf(m)));
      assert.ok((usage(m).output_tokens as number) > 20);
    }
  });

  it('counts more input tokens for longer prompts and for media', () => {
    const short = usage(mockMessage(base('short'))).input_tokens as number;
    const long = usage(mockMessage(base('long '.repeat(400)))).input_tokens as number;
    assert.ok(short >= 1);
    assert.ok(long > short + 400, `${short} vs ${long}`);
    const withImage = mockMessage({
      ...base(),
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'short' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBOR' } },
          ],
        },
      ],
    });
    assert.ok((usage(withImage).input_tokens as number) >= short + 1600);
    const withSystem = usage(mockMessage({ ...base('short'), system: 'word '.repeat(100) }))
      .input_tokens as number;
    const withTools = usage(mockMessage({ ...base('short'), tools: [weatherTool] })).input_tokens as number;
    assert.ok(withSystem > short + 100);
    assert.ok(withTools > short + 100);
  });

  it('has a tokenizer that is exact under cutting', () => {
    assert.equal(countTokens('Hello, world! foo_bar 42'), 6);
    assert.equal(countTokens('  '), 0);
    assert.equal(countTokens('é👋'), 2);
    const text = 'One, two three... four!'; // One , two three . . . four !
    assert.equal(countTokens(text), 9);
    for (let n = 0; n <= 10; n++) {
      const c = cutAtTokens(text, n);
      assert.equal(countTokens(c.text), Math.min(n, 9));
      assert.equal(c.tokens, Math.min(n, 9));
      assert.equal(c.cut, n < 9);
    }
  });
});

describe('mock model: max_tokens and stop sequences', () => {
  it('cuts at max_tokens', () => {
    const one = mockMessage(base('Hello', { max_tokens: 1 }));
    assert.equal(textOf(one), 'You');
    assert.equal(one.stop_reason, 'max_tokens');
    assert.equal(usage(one).output_tokens, 1);
    const five = mockMessage(base('Hello', { max_tokens: 5 }));
    assert.equal(textOf(five), 'You said: "Hello');
    assert.equal(countTokens(textOf(five)), 5);
    assert.equal(usage(five).output_tokens, 5);
    assert.equal(five.stop_reason, 'max_tokens');
    assert.equal(five.stop_sequence, null);
  });

  it('stops before the earliest stop sequence', () => {
    const m = mockMessage(
      base('Please repeat: apples BANANA cherries STOP now', { stop_sequences: ['STOP', 'BANANA', 'never'] }),
    );
    assert.equal(textOf(m), 'You said: "Please repeat: apples ');
    assert.equal(m.stop_reason, 'stop_sequence');
    assert.equal(m.stop_sequence, 'BANANA');
    assert.equal(usage(m).output_tokens, countTokens(textOf(m)));
  });

  it('reports max_tokens when the cut comes before the stop sequence', () => {
    const m = mockMessage(
      base('one two three four five six BANANA', { max_tokens: 4, stop_sequences: ['BANANA'] }),
    );
    assert.equal(m.stop_reason, 'max_tokens');
    assert.equal(m.stop_sequence, null);
    assert.equal(usage(m).output_tokens, 4);
  });

  it('ends the turn when no stop sequence occurs', () => {
    const m = mockMessage(base('Hello', { stop_sequences: ['ZZZ-not-there'] }));
    assert.equal(m.stop_reason, 'end_turn');
    assert.equal(m.stop_sequence, null);
  });
});

describe('mock model: inputs', () => {
  it('mentions the system prompt', () => {
    const m = mockMessage(
      base('Hi', {
        system: [{ type: 'text', text: 'You are a helpful pirate who speaks only in rhymes and riddles' }],
      }),
    );
    assert.ok(textOf(m).includes('[system: You are a helpful pirate who speaks only…]'), textOf(m));
    const short = mockMessage(base('Hi', { system: 'Be brief.' }));
    assert.ok(textOf(short).includes('[system: Be brief.]'));
  });

  it('accepts images and documents', () => {
    const m = mockMessage({
      ...base(),
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0x' } },
            { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Some text' } },
            { type: 'text', text: 'Describe these.' },
          ],
        },
      ],
    });
    assert.equal(m.stop_reason, 'end_turn');
    assert.ok(textOf(m).startsWith('You said: "Describe these.". I see 1 image and 2 documents.'), textOf(m));
  });

  it('reads the last user turn of a conversation', () => {
    const m = mockMessage({
      ...base(),
      messages: [
        { role: 'user', content: 'First question' },
        { role: 'assistant', content: 'First answer' },
        { role: 'user', content: [{ type: 'text', text: 'Second question' }] },
      ],
    });
    assert.ok(textOf(m).startsWith('You said: "Second question".'));
  });

  it('shortens long prompts in the echo', () => {
    const m = mockMessage(base(`${'word '.repeat(200)}END`));
    const echo = textOf(m).split('".')[0] ?? '';
    assert.ok(echo.length < 260 && echo.endsWith('…'), echo);
  });

  it('does not throw on odd but valid inputs', () => {
    const odd: Obj[] = [
      base('x', {
        tools: [{ type: 'web_search_20250305', name: 'web_search' }],
        tool_choice: { type: 'any' },
      }),
      base('x', { tools: [{ name: 'free', input_schema: { type: 'object', additionalProperties: true } }] }),
      { ...base(), messages: [{ role: 'assistant', content: '' }] },
      {
        ...base(),
        messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'ok' }] }],
      },
      {
        ...base(),
        messages: [
          { role: 'system', content: 'sys' },
          { role: 'user', content: 'hi' },
        ],
      },
    ];
    for (const p of odd) {
      const m = mockMessage(p);
      assert.equal(usage(m).output_tokens, emittedTokens(m));
    }
  });
});

describe('mock model: tools', () => {
  it('calls a tool with tool_choice any, with an input that satisfies the schema', () => {
    const m = mockMessage(
      base('What should I wear?', { tools: [weatherTool], tool_choice: { type: 'any' } }),
    );
    assert.equal(m.stop_reason, 'tool_use');
    const use = blocks(m).find((b) => b.type === 'tool_use');
    assert.ok(use);
    assert.match(use.id as string, /^toolu_01[1-9A-HJ-NP-Za-km-z]{22}$/);
    assert.equal(use.name, 'get_weather');
    assert.deepEqual(check(weatherTool.input_schema, use.input), []);
    assert.equal((use.input as Obj).color, 'red');
    assert.equal(usage(m).output_tokens, emittedTokens(m));
  });

  it('calls the named tool with tool_choice tool', () => {
    const m = mockMessage(
      base('Anything', {
        tools: [weatherTool, searchTool],
        tool_choice: { type: 'tool', name: 'search_docs' },
      }),
    );
    const use = blocks(m).find((b) => b.type === 'tool_use');
    assert.equal(use?.name, 'search_docs');
    assert.deepEqual(check(searchTool.input_schema, use?.input), []);
    assert.equal(m.stop_reason, 'tool_use');
  });

  it('under auto, calls a tool only when the prompt names it', () => {
    const tools = [weatherTool, searchTool];
    const named = mockMessage(base('Please use search_docs for this', { tools }));
    assert.equal(blocks(named).find((b) => b.type === 'tool_use')?.name, 'search_docs');
    const plain = mockMessage(base('Tell me a story', { tools }));
    assert.equal(plain.stop_reason, 'end_turn');
    assert.ok(blocks(plain).every((b) => b.type === 'text'));
    const partOfWord = mockMessage(base('Not my_search_docs_tool please', { tools }));
    assert.equal(partOfWord.stop_reason, 'end_turn');
  });

  it('never calls a tool with tool_choice none', () => {
    const m = mockMessage(base('use get_weather', { tools: [weatherTool], tool_choice: { type: 'none' } }));
    assert.equal(m.stop_reason, 'end_turn');
    assert.ok(blocks(m).every((b) => b.type === 'text'));
  });

  it('falls back to text when the tool input does not fit in max_tokens', () => {
    const m = mockMessage(base('x', { max_tokens: 3, tools: [weatherTool], tool_choice: { type: 'any' } }));
    assert.equal(m.stop_reason, 'max_tokens');
    assert.equal(usage(m).output_tokens, 3);
  });

  it('generates instances for common schema features', () => {
    const schema = {
      type: 'object',
      $defs: { node: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] } },
      properties: {
        ref: { $ref: '#/$defs/node' },
        both: { allOf: [{ properties: { x: { type: 'string' } }, required: ['x'] }, { required: ['y'] }] },
        uniq: { type: 'array', items: { enum: ['a', 'b', 'c'] }, minItems: 3, uniqueItems: true },
        id: { type: 'string', format: 'uuid' },
        big: { type: 'string', minLength: 50 },
        tiny: { type: 'string', maxLength: 3 },
        even: { type: 'integer', multipleOf: 2, exclusiveMinimum: 10, maximum: 20 },
      },
      required: ['ref', 'both'],
    };
    for (let i = 0; i < 20; i++) {
      const v = schemaInstance(schema, new Prng({ hi: i, lo: 99 }));
      assert.deepEqual(check(schema, v), [], JSON.stringify(v));
      assert.ok('y' in ((v as Obj).both as Obj));
    }
    assert.deepEqual(schemaInstance({ not: 'a schema' }, new Prng({ hi: 1, lo: 1 })), {});
    assert.deepEqual(schemaInstance(null, new Prng({ hi: 1, lo: 1 })), {});
  });
});

describe('mock model: thinking', () => {
  it('bills omitted thinking without showing it', () => {
    const m = mockMessage(base('Hi', { thinking: { type: 'adaptive', display: 'omitted' } }));
    const [first] = blocks(m);
    assert.equal(first?.type, 'thinking');
    assert.equal(first?.thinking, '');
    assert.ok((usage(m).output_tokens as number) > emittedTokens(m));
  });

  it('adds a thinking block with a signature when thinking is enabled', () => {
    const m = mockMessage(
      base('Why is the sky blue?', { max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 1024 } }),
    );
    const [first, second] = blocks(m);
    assert.equal(first?.type, 'thinking');
    assert.ok(String(first?.thinking).startsWith('The user asks about "Why is the sky blue?".'));
    assert.equal(typeof first?.signature, 'string');
    assert.equal(second?.type, 'text');
    assert.equal(usage(m).output_tokens, emittedTokens(m));
  });
});

describe('MockBackend', () => {
  it('injects retryable errors at errorRate 1 and none at 0', async () => {
    const failing = new MockBackend({ latency: { minMs: 0, maxMs: 0 }, errorRate: 1 });
    const healthy = new MockBackend({ latency: { minMs: 0, maxMs: 0 }, errorRate: 0 });
    const kinds = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const params = base(`request ${i}`);
      const bad = await failing.send(request(params));
      assert.equal(bad.type, 'errored');
      if (bad.type === 'errored') {
        assert.ok(['api_error', 'overloaded_error'].includes(bad.error.type));
        assert.match(bad.error.message, /^Mock model: injected /);
        assert.equal(bad.retryable, true);
        kinds.add(bad.error.type);
      }
      assert.equal((await healthy.send(request(params))).type, 'succeeded');
    }
    assert.equal(kinds.size, 2);
  });

  it('injects errors deterministically per attempt at intermediate rates', async () => {
    const backend = new MockBackend({ latency: { minMs: 0, maxMs: 0 }, errorRate: 0.5 });
    let errored = 0;
    for (let i = 0; i < 200; i++) {
      const req = request(base(`r${i}`), { attempt: 1 + (i % 3) });
      const a = await backend.send(req);
      assert.deepEqual(await backend.send(req), a);
      if (a.type === 'errored') errored++;
    }
    assert.ok(errored > 60 && errored < 140, `${errored}`);
  });

  it('resolves without a timer when latency is 0', async () => {
    const backend = new MockBackend({ latency: { minMs: 0, maxMs: 0 }, errorRate: 0 });
    const winner = await Promise.race([
      backend.send(request(base())),
      new Promise((resolve) => setImmediate(() => resolve('timer'))),
    ]);
    assert.notEqual(winner, 'timer');
  });

  it('waits the configured latency', async () => {
    const backend = new MockBackend({ latency: { minMs: 30, maxMs: 40 }, errorRate: 0 });
    const started = performance.now();
    const outcome = await backend.send(request(base()));
    assert.equal(outcome.type, 'succeeded');
    assert.ok(performance.now() - started >= 25);
  });

  it('rejects with the abort reason', async () => {
    const backend = new MockBackend({ latency: { minMs: 5_000, maxMs: 5_000 }, errorRate: 0 });
    const ac = new AbortController();
    const reason = new Error('shutting down');
    const pending = backend.send(request(base(), { signal: ac.signal }));
    setTimeout(() => ac.abort(reason), 10);
    await assert.rejects(pending, (err) => err === reason);
    const pre = AbortSignal.abort(reason);
    const fast = new MockBackend({ latency: { minMs: 0, maxMs: 0 }, errorRate: 0 });
    await assert.rejects(fast.send(request(base(), { signal: pre })), (err) => err === reason);
  });

  it('rejects invalid options', () => {
    assert.throws(() => new MockBackend({ latency: { minMs: 10, maxMs: 5 }, errorRate: 0 }), RangeError);
    assert.throws(() => new MockBackend({ latency: { minMs: -1, maxMs: 5 }, errorRate: 0 }), RangeError);
    assert.throws(() => new MockBackend({ latency: { minMs: 0, maxMs: 0 }, errorRate: 1.5 }), RangeError);
    assert.throws(
      () => new MockBackend({ latency: { minMs: 0, maxMs: 0 }, errorRate: Number.NaN }),
      RangeError,
    );
    assert.equal(new MockBackend({ latency: { minMs: 0, maxMs: 0 }, errorRate: 0 }).name, 'mock');
  });
});
