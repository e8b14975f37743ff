import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AccumulatedResult,
  MessageAccumulator,
  StreamProtocolError,
} from '../../src/backends/anthropic/message-accumulator.ts';
import { type SseEvent, SseParser, SseTooLargeError } from '../../src/backends/anthropic/sse-events.ts';

type Obj = Record<string, unknown>;

const enc = new TextEncoder();

/** One SSE frame the way the hosted API writes it. */
const frame = (data: Obj, eol = '\n'): string =>
  `event: ${data.type}${eol}data: ${JSON.stringify(data)}${eol}${eol}`;

const start = (usage: Obj = { input_tokens: 25, output_tokens: 1 }): Obj => ({
  type: 'message_start',
  message: {
    id: 'msg_01abc',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5',
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { cache_creation_input_tokens: 0, cache_read_input_tokens: 0, service_tier: 'batch', ...usage },
  },
});
const blockStart = (index: number, block: Obj): Obj => ({
  type: 'content_block_start',
  index,
  content_block: block,
});
const delta = (index: number, d: Obj): Obj => ({ type: 'content_block_delta', index, delta: d });
const blockStop = (index: number): Obj => ({ type: 'content_block_stop', index });
const messageDelta = (d: Obj, usage: Obj): Obj => ({ type: 'message_delta', delta: d, usage });
const STOP = { type: 'message_stop' };

/** A realistic stream: thinking with a signature, text with citations and non-ASCII, a tool call in pieces. */
const REALISTIC: Obj[] = [
  start(),
  blockStart(0, { type: 'thinking', thinking: '', signature: '' }),
  delta(0, { type: 'thinking_delta', thinking: 'Let me think about ' }),
  delta(0, { type: 'thinking_delta', thinking: 'the weather.' }),
  delta(0, { type: 'signature_delta', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3h' }),
  blockStop(0),
  { type: 'ping' },
  blockStart(1, { type: 'text', text: '', citations: null }),
  delta(1, { type: 'text_delta', text: 'Grüße 👋, ' }),
  delta(1, {
    type: 'citations_delta',
    citation: { type: 'char_location', cited_text: 'sunny', document_index: 0 },
  }),
  delta(1, { type: 'text_delta', text: 'it is sunny — 日本.' }),
  blockStop(1),
  blockStart(2, { type: 'tool_use', id: 'toolu_01x', name: 'get_weather', input: {} }),
  delta(2, { type: 'input_json_delta', partial_json: '' }),
  delta(2, { type: 'input_json_delta', partial_json: '{"location": "San Fra' }),
  delta(2, { type: 'input_json_delta', partial_json: 'ncisco", "days": [1, 2' }),
  delta(2, { type: 'input_json_delta', partial_json: ']}' }),
  blockStop(2),
  messageDelta({ stop_reason: 'tool_use', stop_sequence: null }, { output_tokens: 89 }),
  STOP,
];

const EXPECTED_REALISTIC = {
  id: 'msg_01abc',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5',
  content: [
    {
      type: 'thinking',
      thinking: 'Let me think about the weather.',
      signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3h',
    },
    {
      type: 'text',
      text: 'Grüße 👋, it is sunny — 日本.',
      citations: [{ type: 'char_location', cited_text: 'sunny', document_index: 0 }],
    },
    {
      type: 'tool_use',
      id: 'toolu_01x',
      name: 'get_weather',
      input: { location: 'San Francisco', days: [1, 2] },
    },
  ],
  stop_reason: 'tool_use',
  stop_sequence: null,
  usage: {
    input_tokens: 25,
    output_tokens: 89,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    service_tier: 'batch',
  },
};

function parseChunks(chunks: Uint8Array[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  for (const c of chunks) out.push(...p.push(c));
  out.push(...p.end());
  return out;
}

function accumulate(events: Iterable<SseEvent>): AccumulatedResult {
  const acc = new MessageAccumulator();
  for (const e of events) acc.push(e);
  return acc.result();
}

const asEvents = (datas: Obj[]): SseEvent[] =>
  datas.map((d) => ({ event: String(d.type), data: JSON.stringify(d) }));

function messageOf(r: AccumulatedResult): Obj {
  assert.equal(r.type, 'message', JSON.stringify(r));
  return (r as { message: Obj }).message;
}

describe('SseParser', () => {
  const expected = asEvents(REALISTIC);

  for (const [label, eol] of [
    ['LF', '\n'],
    ['CRLF', '\r\n'],
    ['CR', '\r'],
  ] as const) {
    it(`parses a realistic ${label} stream split at every byte position into the same events`, () => {
      const bytes = enc.encode(`: keep-alive comment${eol}${REALISTIC.map((d) => frame(d, eol)).join('')}`);
      assert.deepEqual(parseChunks([bytes]), expected);
      for (let i = 1; i < bytes.length; i++) {
        const got = parseChunks([bytes.subarray(0, i), bytes.subarray(i)]);
        assert.deepEqual(got, expected, `split at ${i}`);
      }
      const oneByOne = parseChunks([...bytes].map((b) => Uint8Array.of(b)));
      assert.deepEqual(oneByOne, expected);
      assert.deepEqual(accumulate(oneByOne), { type: 'message', message: EXPECTED_REALISTIC });
    });
  }

  it('joins multi-line data, ignores comments, ids, retry and unknown fields, and strips one space', () => {
    const text = [
      ':comment',
      'id: 7',
      'retry: 1000',
      'foo: bar',
      'event: content_block_delta',
      'data:{"a":',
      'data:  1}',
      '',
      'data',
      '',
      'event: lonely',
      '',
      'data: x',
      '',
      '',
    ].join('\n');
    assert.deepEqual(parseChunks([enc.encode(text)]), [
      { event: 'content_block_delta', data: '{"a":\n 1}' },
      { event: 'message', data: '' },
      { event: 'message', data: 'x' },
    ]);
  });

  it('strips a leading byte order mark', () => {
    const bytes = Uint8Array.of(0xef, 0xbb, 0xbf, ...enc.encode('event: ping\ndata: {}\n\n'));
    assert.deepEqual(parseChunks([bytes.subarray(0, 2), bytes.subarray(2)]), [{ event: 'ping', data: '{}' }]);
  });

  it('dispatches a final event whose blank line (or line end) never came', () => {
    assert.deepEqual(parseChunks([enc.encode('event: message_stop\ndata: {"type":"message_stop"}')]), [
      { event: 'message_stop', data: '{"type":"message_stop"}' },
    ]);
    assert.deepEqual(parseChunks([enc.encode('event: message_stop\ndata: {}\r')]), [
      { event: 'message_stop', data: '{}' },
    ]);
  });

  it('bounds the size of one event', () => {
    const p = new SseParser(100);
    assert.deepEqual(p.push(enc.encode(`data: ${'x'.repeat(60)}\n`)), []);
    assert.throws(() => p.push(enc.encode(`data: ${'y'.repeat(60)}\n`)), SseTooLargeError);
    const q = new SseParser(100);
    q.push(enc.encode(`data: ${'x'.repeat(60)}`));
    assert.throws(() => q.push(enc.encode('z'.repeat(60))), SseTooLargeError);
    // The bound is per event: many events of moderate size are fine.
    const r = new SseParser(100);
    const many = r.push(enc.encode(`data: ${'x'.repeat(60)}\n\n`.repeat(50)));
    assert.equal(many.length, 50);
  });
});

describe('MessageAccumulator', () => {
  it('builds a plain text message and merges usage from message_delta', () => {
    const m = messageOf(
      accumulate(
        asEvents([
          start({ input_tokens: 10, output_tokens: 1 }),
          blockStart(0, { type: 'text', text: '' }),
          delta(0, { type: 'text_delta', text: 'Hello' }),
          { type: 'ping' },
          delta(0, { type: 'text_delta', text: ', world' }),
          blockStop(0),
          messageDelta(
            { stop_reason: 'end_turn', stop_sequence: null },
            {
              output_tokens: 12,
              input_tokens: null,
              cache_read_input_tokens: 5,
              server_tool_use: { web_search_requests: 1 },
            },
          ),
          STOP,
        ]),
      ),
    );
    assert.deepEqual(m.content, [{ type: 'text', text: 'Hello, world' }]);
    assert.equal(m.stop_reason, 'end_turn');
    assert.deepEqual(m.usage, {
      input_tokens: 10,
      output_tokens: 12,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 5,
      service_tier: 'batch',
      server_tool_use: { web_search_requests: 1 },
    });
  });

  it('reports the stop sequence', () => {
    const m = messageOf(
      accumulate(
        asEvents([
          start(),
          blockStart(0, { type: 'text', text: '' }),
          delta(0, { type: 'text_delta', text: 'one two ' }),
          blockStop(0),
          messageDelta({ stop_reason: 'stop_sequence', stop_sequence: 'STOP' }, { output_tokens: 3 }),
          STOP,
        ]),
      ),
    );
    assert.equal(m.stop_reason, 'stop_sequence');
    assert.equal(m.stop_sequence, 'STOP');
    assert.equal((m.usage as Obj).output_tokens, 3);
  });

  it('parses tool input from input_json_delta pieces, and keeps {} for a tool call without deltas', () => {
    const m = messageOf(
      accumulate(
        asEvents([
          start(),
          blockStart(0, { type: 'tool_use', id: 't1', name: 'a', input: {} }),
          delta(0, { type: 'input_json_delta', partial_json: '{"q": "caf' }),
          delta(0, { type: 'input_json_delta', partial_json: 'é", "n": {"deep": [true, null]}}' }),
          blockStop(0),
          blockStart(1, { type: 'server_tool_use', id: 's1', name: 'web_search', input: {} }),
          delta(1, { type: 'input_json_delta', partial_json: '{"query": "x"}' }),
          blockStop(1),
          blockStart(2, { type: 'tool_use', id: 't2', name: 'b', input: {} }),
          blockStop(2),
          messageDelta({ stop_reason: 'tool_use', stop_sequence: null }, { output_tokens: 30 }),
          STOP,
        ]),
      ),
    );
    const content = m.content as Obj[];
    assert.deepEqual(content[0]?.input, { q: 'café', n: { deep: [true, null] } });
    assert.deepEqual(content[1]?.input, { query: 'x' });
    assert.deepEqual(content[2]?.input, {});
  });

  it('keeps a well-formed message when max_tokens cuts a tool input short', () => {
    const m = messageOf(
      accumulate(
        asEvents([
          start(),
          blockStart(0, { type: 'tool_use', id: 't1', name: 'a', input: {} }),
          delta(0, { type: 'input_json_delta', partial_json: '{"q": "unfinish' }),
          blockStop(0),
          messageDelta({ stop_reason: 'max_tokens', stop_sequence: null }, { output_tokens: 5 }),
          STOP,
        ]),
      ),
    );
    assert.deepEqual((m.content as Obj[])[0]?.input, {});
    assert.equal(m.stop_reason, 'max_tokens');
  });

  it('builds thinking with its signature', () => {
    const m = messageOf(
      accumulate(
        asEvents([
          start(),
          blockStart(0, { type: 'thinking', thinking: '', signature: '' }),
          delta(0, { type: 'thinking_delta', thinking: 'Step 1. ' }),
          delta(0, { type: 'thinking_delta', thinking: 'Step 2.' }),
          delta(0, { type: 'signature_delta', signature: 'sig==' }),
          blockStop(0),
          blockStart(1, { type: 'redacted_thinking', data: 'opaque' }),
          blockStop(1),
          blockStart(2, { type: 'text', text: 'Done' }),
          blockStop(2),
          messageDelta({ stop_reason: 'end_turn', stop_sequence: null }, { output_tokens: 9 }),
          STOP,
        ]),
      ),
    );
    assert.deepEqual(m.content, [
      { type: 'thinking', thinking: 'Step 1. Step 2.', signature: 'sig==' },
      { type: 'redacted_thinking', data: 'opaque' },
      { type: 'text', text: 'Done' },
    ]);
  });

  it('ignores unknown events and delta types, keeps unknown blocks and new message_delta fields', () => {
    const m = messageOf(
      accumulate(
        asEvents([
          { type: 'future_preamble', x: 1 },
          start(),
          { type: 'future_event', index: 0 },
          blockStart(0, { type: 'future_block', payload: { a: 1 } }),
          delta(0, { type: 'future_delta', more: 'stuff' }),
          blockStop(0),
          messageDelta(
            { stop_reason: 'pause_turn', stop_sequence: null, container: { id: 'c1' }, stop_details: null },
            { output_tokens: 2 },
          ),
          STOP,
          // After message_stop nothing counts.
          delta(0, { type: 'text_delta', text: 'late' }),
        ]),
      ),
    );
    assert.deepEqual(m.content, [{ type: 'future_block', payload: { a: 1 } }]);
    assert.equal(m.stop_reason, 'pause_turn');
    assert.deepEqual(m.container, { id: 'c1' });
    assert.equal(m.stop_details, null);
  });

  it('records an error event', () => {
    const acc = new MessageAccumulator();
    acc.push({ event: 'message_start', data: JSON.stringify(start()) });
    assert.equal(acc.done, false);
    acc.push({
      event: 'error',
      data: JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }),
    });
    assert.equal(acc.done, true);
    assert.deepEqual(acc.result(), {
      type: 'error',
      error: { type: 'overloaded_error', message: 'Overloaded' },
    });
    const long = new MessageAccumulator();
    long.push({
      event: 'error',
      data: JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'm'.repeat(5000) } }),
    });
    const r = long.result();
    assert.ok(r.type === 'error' && r.error.message.length <= 1001, JSON.stringify(r).slice(0, 100));
  });

  it('reports a stream without message_stop as incomplete', () => {
    const events = asEvents(REALISTIC);
    assert.deepEqual(accumulate(events.slice(0, -1)), { type: 'incomplete' });
    assert.deepEqual(accumulate([]), { type: 'incomplete' });
    // Truncated inside the last event's bytes: the parser hands over a broken JSON text.
    const bytes = enc.encode(REALISTIC.map((d) => frame(d)).join(''));
    const cut = parseChunks([bytes.subarray(0, bytes.length - 8)]);
    assert.throws(() => accumulate(cut), StreamProtocolError);
  });

  it('rejects malformed streams', () => {
    assert.throws(() => accumulate([{ event: 'message_start', data: '{not json' }]), StreamProtocolError);
    assert.throws(() => accumulate([{ event: 'x', data: '[1,2]' }]), StreamProtocolError);
    assert.throws(
      () => accumulate(asEvents([delta(0, { type: 'text_delta', text: 'a' })])),
      StreamProtocolError,
    );
    assert.throws(() => accumulate(asEvents([start(), start()])), StreamProtocolError);
    assert.throws(
      () => accumulate(asEvents([start(), delta(3, { type: 'text_delta', text: 'a' })])),
      StreamProtocolError,
    );
    assert.throws(
      () => accumulate(asEvents([start(), blockStart(2, { type: 'text', text: '' })])),
      StreamProtocolError,
    );
  });
});
