import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_ERROR_MESSAGE,
  toAnthropicError,
  toAnthropicErrorFromText,
} from '../../src/backends/openai/translate-error.ts';
import { toChatCompletionRequest } from '../../src/backends/openai/translate-request.ts';
import { toAnthropicMessage } from '../../src/backends/openai/translate-response.ts';

type Obj = Record<string, unknown>;

const base = (extra: Obj = {}): Obj => ({
  model: 'qwen3-8b',
  max_tokens: 512,
  messages: [{ role: 'user', content: 'Hello' }],
  ...extra,
});

function body(params: Obj): Obj {
  const r = toChatCompletionRequest(params);
  if (!r.ok) assert.fail(`expected a translation, got: ${r.message}`);
  return r.body;
}

function refusal(params: Obj): string {
  const r = toChatCompletionRequest(params);
  if (r.ok) assert.fail(`expected an untranslatable request, got ${JSON.stringify(r.body)}`);
  return r.message;
}

const weather = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const time = { name: 'get_time', input_schema: { type: 'object', properties: {} } };

describe('toChatCompletionRequest', () => {
  it('translates a minimal request, never asking for a stream', () => {
    assert.deepEqual(body(base({ stream: false })), {
      model: 'qwen3-8b',
      messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 512,
    });
  });

  it('puts a string system prompt first', () => {
    assert.deepEqual(body(base({ system: 'Be terse.' })).messages, [
      { role: 'system', content: 'Be terse.' },
      { role: 'user', content: 'Hello' },
    ]);
  });

  it('turns system text blocks into text parts, ignoring cache_control; one block becomes a string', () => {
    const two = body(
      base({
        system: [
          { type: 'text', text: 'You are a librarian.' },
          { type: 'text', text: 'Answer in French.', cache_control: { type: 'ephemeral' } },
        ],
      }),
    );
    assert.deepEqual((two.messages as Obj[])[0], {
      role: 'system',
      content: [
        { type: 'text', text: 'You are a librarian.' },
        { type: 'text', text: 'Answer in French.' },
      ],
    });
    const one = body(
      base({ system: [{ type: 'text', text: 'Only one.', cache_control: { type: 'ephemeral' } }] }),
    );
    assert.deepEqual((one.messages as Obj[])[0], { role: 'system', content: 'Only one.' });
  });

  it('leaves out an empty system prompt', () => {
    assert.deepEqual(body(base({ system: '' })).messages, [{ role: 'user', content: 'Hello' }]);
    assert.deepEqual(body(base({ system: [] })).messages, [{ role: 'user', content: 'Hello' }]);
  });

  it('keeps role:system messages in place', () => {
    const b = body(
      base({
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'system', content: [{ type: 'text', text: 'Now switch to English.' }] },
          { role: 'user', content: 'Bonjour' },
        ],
      }),
    );
    assert.deepEqual(b.messages, [
      { role: 'user', content: 'Hi' },
      { role: 'system', content: 'Now switch to English.' },
      { role: 'user', content: 'Bonjour' },
    ]);
  });

  it('translates a multi-turn tool conversation with parallel calls, results first, is_error kept', () => {
    const params = base({
      system: 'Use tools.',
      tools: [weather, time],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Oslo, and the time?' }] },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Let me check.' },
            { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'toolu_01B', name: 'get_weather', input: { city: 'Oslo' } },
            { type: 'tool_use', id: 'toolu_01C', name: 'get_time', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_01A', content: '18°C, sunny' },
            {
              type: 'tool_result',
              tool_use_id: 'toolu_01B',
              content: [
                { type: 'text', text: '4°C' },
                { type: 'text', text: 'light snow' },
              ],
              cache_control: { type: 'ephemeral' },
            },
            { type: 'tool_result', tool_use_id: 'toolu_01C', content: 'clock offline', is_error: true },
            { type: 'text', text: 'Summarise please.' },
          ],
        },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'toolu_01D', name: 'get_time', input: { tz: 'UTC' } }],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01D', is_error: true }] },
      ],
    });
    assert.deepEqual(body(params), {
      model: 'qwen3-8b',
      max_tokens: 512,
      messages: [
        { role: 'system', content: 'Use tools.' },
        { role: 'user', content: 'Weather in Paris and Oslo, and the time?' },
        {
          role: 'assistant',
          content: 'Let me check.',
          tool_calls: [
            {
              id: 'toolu_01A',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            {
              id: 'toolu_01B',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
            },
            { id: 'toolu_01C', type: 'function', function: { name: 'get_time', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_01A', content: '18°C, sunny' },
        { role: 'tool', tool_call_id: 'toolu_01B', content: '4°C\nlight snow' },
        { role: 'tool', tool_call_id: 'toolu_01C', content: 'Error: clock offline' },
        { role: 'user', content: 'Summarise please.' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'toolu_01D', type: 'function', function: { name: 'get_time', arguments: '{"tz":"UTC"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_01D', content: 'Error' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Current weather for a city',
            parameters: weather.input_schema,
          },
        },
        { type: 'function', function: { name: 'get_time', parameters: time.input_schema } },
      ],
    });
  });

  it('translates base64 and url images next to text', () => {
    const b = body(
      base({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
              { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
              { type: 'text', text: 'What differs?' },
            ],
          },
        ],
      }),
    );
    assert.deepEqual(b.messages, [
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          { type: 'text', text: 'What differs?' },
        ],
      },
    ]);
  });

  it('keeps several text blocks as parts (no joining that would change the prompt)', () => {
    const b = body(
      base({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Part one.', citations: null },
              { type: 'text', text: 'Part two.' },
            ],
          },
        ],
      }),
    );
    assert.deepEqual(b.messages, [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Part one.' },
          { type: 'text', text: 'Part two.' },
        ],
      },
    ]);
  });

  it('maps the sampling options, stop sequences and metadata; ignores pure hints', () => {
    const b = body(
      base({
        stop_sequences: ['\n\nHuman:', 'END'],
        temperature: 0.2,
        top_p: 0.9,
        top_k: 40,
        metadata: { user_id: 'user-42' },
        cache_control: { type: 'ephemeral' },
        service_tier: 'auto',
        container: null,
      }),
    );
    assert.deepEqual(b, {
      model: 'qwen3-8b',
      messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 512,
      stop: ['\n\nHuman:', 'END'],
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
      user: 'user-42',
    });
  });

  it('leaves out empty stop sequences, empty tools, null options and metadata without user_id', () => {
    const b = body(
      base({
        stop_sequences: [],
        tools: [],
        temperature: null,
        metadata: {},
        thinking: { type: 'disabled' },
      }),
    );
    assert.deepEqual(b, {
      model: 'qwen3-8b',
      messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 512,
    });
  });

  it('maps every tool_choice, and disable_parallel_tool_use', () => {
    const choice = (c: Obj): Obj => {
      const b = body(base({ tools: [weather], tool_choice: c }));
      return { tool_choice: b.tool_choice, parallel_tool_calls: b.parallel_tool_calls };
    };
    assert.deepEqual(choice({ type: 'auto' }), { tool_choice: 'auto', parallel_tool_calls: undefined });
    assert.deepEqual(choice({ type: 'any' }), { tool_choice: 'required', parallel_tool_calls: undefined });
    assert.deepEqual(choice({ type: 'none' }), { tool_choice: 'none', parallel_tool_calls: undefined });
    assert.deepEqual(choice({ type: 'tool', name: 'get_weather' }), {
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: undefined,
    });
    assert.deepEqual(choice({ type: 'any', disable_parallel_tool_use: true }), {
      tool_choice: 'required',
      parallel_tool_calls: false,
    });
    assert.deepEqual(choice({ type: 'auto', disable_parallel_tool_use: false }), {
      tool_choice: 'auto',
      parallel_tool_calls: undefined,
    });
  });

  it('translates custom tools with type custom and strict', () => {
    const b = body(
      base({ tools: [{ ...weather, type: 'custom', strict: true, cache_control: { type: 'ephemeral' } }] }),
    );
    assert.deepEqual(b.tools, [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Current weather for a city',
          parameters: weather.input_schema,
          strict: true,
        },
      },
    ]);
  });

  it('sends a final assistant text turn as a prefill to continue', () => {
    const b = body(
      base({
        messages: [
          { role: 'user', content: 'JSON for a cat?' },
          { role: 'assistant', content: '{"name":' },
        ],
      }),
    );
    assert.deepEqual(b, {
      model: 'qwen3-8b',
      max_tokens: 512,
      messages: [
        { role: 'user', content: 'JSON for a cat?' },
        { role: 'assistant', content: '{"name":' },
      ],
      continue_final_message: true,
      add_generation_prompt: false,
    });
  });

  it('drops an empty final assistant turn and does not prefill earlier assistant turns', () => {
    const empty = body(
      base({
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: [] },
        ],
      }),
    );
    assert.deepEqual(empty, {
      model: 'qwen3-8b',
      max_tokens: 512,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    const earlier = body(
      base({
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: [{ type: 'text', text: 'Hello!' }] },
          { role: 'user', content: 'Bye' },
        ],
      }),
    );
    assert.equal(earlier.continue_final_message, undefined);
    assert.deepEqual((earlier.messages as Obj[])[1], { role: 'assistant', content: 'Hello!' });
  });

  it('translates structured outputs to a strict json_schema response_format', () => {
    const schema = { type: 'object', properties: { a: { type: 'integer' } }, additionalProperties: false };
    const expected = { type: 'json_schema', json_schema: { name: 'output', schema, strict: true } };
    assert.deepEqual(
      body(base({ output_config: { format: { type: 'json_schema', schema } } })).response_format,
      expected,
    );
    assert.deepEqual(
      body(base({ output_format: { type: 'json_schema', schema } })).response_format,
      expected,
    );
  });

  const assistantWith = (block: Obj): Obj =>
    base({
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: [block, { type: 'text', text: 'Answer.' }] },
        { role: 'user', content: 'More' },
      ],
    });
  const userWith = (block: Obj): Obj => base({ messages: [{ role: 'user', content: [block] }] });
  const toolResultWith = (item: Obj): Obj =>
    base({
      messages: [
        { role: 'user', content: 'Look' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'get_weather', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [item] }] },
      ],
    });

  it('names the feature in the exact message', () => {
    assert.equal(
      refusal(assistantWith({ type: 'thinking', thinking: 'hmm', signature: 'sig' })),
      'messages.1.content.0: thinking blocks cannot be sent to an OpenAI-compatible backend ' +
        '(their signatures cannot be verified or replayed)',
    );
    assert.equal(
      refusal(base({ thinking: { type: 'enabled', budget_tokens: 2048 } })),
      "thinking: extended thinking (type 'enabled') cannot be sent to an OpenAI-compatible backend " +
        "(only {type: 'disabled'} is accepted)",
    );
    assert.equal(refusal(base({ foo: 1 })), 'foo: foo cannot be sent to an OpenAI-compatible backend');
  });

  const untranslatable: [string, Obj, string][] = [
    [
      'thinking adaptive',
      base({ thinking: { type: 'adaptive' } }),
      "thinking: extended thinking (type 'adaptive')",
    ],
    ['thinking block', assistantWith({ type: 'thinking', thinking: 'x', signature: 's' }), 'thinking blocks'],
    [
      'redacted_thinking block',
      assistantWith({ type: 'redacted_thinking', data: 'x' }),
      'redacted_thinking blocks',
    ],
    [
      'server_tool_use block',
      assistantWith({ type: 'server_tool_use', id: 's1', name: 'web_search', input: {} }),
      'server_tool_use blocks',
    ],
    [
      'assistant image',
      assistantWith({ type: 'image', source: { type: 'url', url: 'https://x/y.png' } }),
      'image blocks in assistant turns',
    ],
    [
      'document block',
      userWith({ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'doc' } }),
      'messages.0.content.0: document blocks',
    ],
    [
      'search_result block',
      userWith({
        type: 'search_result',
        source: 'https://s',
        title: 't',
        content: [{ type: 'text', text: 'r' }],
      }),
      'search_result blocks',
    ],
    [
      'image file source',
      userWith({ type: 'image', source: { type: 'file', file_id: 'file_1' } }),
      "messages.0.content.0.source: image sources of type 'file'",
    ],
    [
      'image in tool_result',
      toolResultWith({ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AA==' } }),
      'messages.2.content.0.content.0: images inside tool_result blocks',
    ],
    [
      'document in tool_result',
      toolResultWith({ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'd' } }),
      'messages.2.content.0.content.0: document blocks',
    ],
    [
      'server tool',
      base({ tools: [weather, { type: 'web_search_20250305', name: 'web_search', max_uses: 3 }] }),
      "tools.1: server tools (type 'web_search_20250305')",
    ],
    [
      'unknown tool option',
      base({ tools: [{ ...weather, input_examples: [{ city: 'Rome' }] }] }),
      'tools.0.input_examples',
    ],
    [
      'mcp_servers',
      base({ mcp_servers: [{ type: 'url', url: 'https://mcp.example.com', name: 'x' }] }),
      'mcp_servers: the MCP connector (mcp_servers)',
    ],
    ['container', base({ container: 'cntr_1' }), 'container: code execution containers (container)'],
    [
      'context_management',
      base({ context_management: { edits: [] } }),
      'context_management: context management',
    ],
    ['inference_geo', base({ inference_geo: 'us' }), 'inference_geo: inference_geo'],
    ['unknown field', base({ frequency_penalty: 0.5 }), 'frequency_penalty: frequency_penalty'],
    ['stream true', base({ stream: true }), 'stream: streaming'],
    ['output effort', base({ output_config: { effort: 'high' } }), 'output_config.effort'],
    [
      'non json_schema format',
      base({ output_config: { format: { type: 'regex', pattern: 'a+' } } }),
      'output_config.format.type: output formats other than json_schema',
    ],
    [
      'two output formats',
      base({
        output_config: { format: { type: 'json_schema', schema: {} } },
        output_format: { type: 'json_schema', schema: {} },
      }),
      'output_format: output_format together with output_config.format',
    ],
  ];
  for (const [name, params, expected] of untranslatable) {
    it(`refuses ${name}, naming it`, () => {
      const message = refusal(params);
      assert.ok(message.includes(expected), message);
      assert.match(message, /cannot be sent to an OpenAI-compatible backend/);
    });
  }

  it('fails closed on params it cannot read', () => {
    const r = toChatCompletionRequest({ model: 'm', max_tokens: 1, messages: [null] });
    assert.deepEqual(r, {
      ok: false,
      message: 'params: could not be translated for an OpenAI-compatible backend',
    });
  });
});

const completion = (message: Obj, extra: Obj = {}, choice: Obj = {}): Obj => ({
  id: 'chatcmpl-9f3c2a71b5d84e0fa1c2d3e4f5a6b7c8',
  object: 'chat.completion',
  created: 1760000000,
  model: 'Qwen/Qwen3-8B',
  choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: 'stop', ...choice }],
  usage: { prompt_tokens: 25, completion_tokens: 7, total_tokens: 32 },
  ...extra,
});

function message(c: unknown, model = 'qwen3-8b'): Obj {
  const r = toAnthropicMessage(c, model);
  if (!r.ok) assert.fail(`expected a message, got: ${r.message}`);
  return r.message;
}

function unusable(c: unknown): string {
  const r = toAnthropicMessage(c, 'm');
  if (r.ok) assert.fail(`expected an unusable completion, got ${JSON.stringify(r.message)}`);
  return r.message;
}

describe('toAnthropicMessage', () => {
  it('translates a text answer to a full Message with the requested model', () => {
    const r = toAnthropicMessage(completion({ content: 'Hi there!' }), 'qwen3-8b');
    assert.ok(r.ok);
    assert.deepEqual(r.message, {
      id: 'msg_9f3c2a71b5d84e0fa1c2d3e4f5a6b7c8',
      type: 'message',
      role: 'assistant',
      model: 'qwen3-8b',
      content: [{ type: 'text', text: 'Hi there!', citations: null }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: 25,
        output_tokens: 7,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
        server_tool_use: null,
        service_tier: 'batch',
        inference_geo: null,
      },
      container: null,
      stop_details: null,
    });
    assert.deepEqual(r.usage, {
      input_tokens: 25,
      output_tokens: 7,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    });
  });

  it('splits cached prompt tokens out of input_tokens', () => {
    const r = toAnthropicMessage(
      completion(
        { content: 'ok' },
        {
          usage: { prompt_tokens: 1000, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 768 } },
        },
      ),
      'm',
    );
    assert.ok(r.ok);
    assert.deepEqual(r.usage, {
      input_tokens: 232,
      output_tokens: 3,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 768,
    });
    assert.equal((r.message.usage as Obj).cache_read_input_tokens, 768);
  });

  it('reports zero usage when the server sends none (or null details)', () => {
    const none = toAnthropicMessage(completion({ content: 'ok' }, { usage: undefined }), 'm');
    assert.ok(none.ok);
    assert.deepEqual(none.usage, {
      input_tokens: 0,
      output_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    });
    const nullDetails = toAnthropicMessage(
      completion(
        { content: 'ok' },
        { usage: { prompt_tokens: 9, completion_tokens: 2, prompt_tokens_details: null } },
      ),
      'm',
    );
    assert.ok(nullDetails.ok);
    assert.equal(nullDetails.usage.input_tokens, 9);
    assert.equal(nullDetails.usage.cache_read_input_tokens, 0);
  });

  const stops: [string, Obj, Obj, string, string | null][] = [
    ['stop', { content: 'a' }, { finish_reason: 'stop' }, 'end_turn', null],
    [
      'vLLM matched stop string',
      { content: 'a' },
      { finish_reason: 'stop', stop_reason: 'END' },
      'stop_sequence',
      'END',
    ],
    [
      'vLLM stop token id',
      { content: 'a' },
      { finish_reason: 'stop', stop_reason: 151645 },
      'end_turn',
      null,
    ],
    [
      'SGLang matched_stop',
      { content: 'a' },
      { finish_reason: 'stop', matched_stop: '\n\n' },
      'stop_sequence',
      '\n\n',
    ],
    ['length', { content: 'a' }, { finish_reason: 'length' }, 'max_tokens', null],
    ['content_filter', { content: 'a' }, { finish_reason: 'content_filter' }, 'refusal', null],
    ['unknown', { content: 'a' }, { finish_reason: 'abort' }, 'end_turn', null],
    ['null', { content: 'a' }, { finish_reason: null }, 'end_turn', null],
    [
      'tool_calls',
      {
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
      },
      { finish_reason: 'tool_calls' },
      'tool_use',
      null,
    ],
    [
      'stop with tool calls (forced tool choice)',
      {
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
      },
      { finish_reason: 'stop', stop_reason: 'END' },
      'tool_use',
      null,
    ],
    ['tool_calls without calls', { content: 'a' }, { finish_reason: 'tool_calls' }, 'end_turn', null],
    [
      'legacy function_call',
      { content: null, function_call: { name: 'f', arguments: '{"x":1}' } },
      { finish_reason: 'function_call' },
      'tool_use',
      null,
    ],
    [
      'OpenAI refusal',
      { content: null, refusal: 'I cannot help with that.' },
      { finish_reason: 'stop' },
      'refusal',
      null,
    ],
  ];
  for (const [name, msg, choice, reason, sequence] of stops) {
    it(`maps finish_reason: ${name} -> ${reason}`, () => {
      const m = message(completion(msg, {}, choice));
      assert.equal(m.stop_reason, reason);
      assert.equal(m.stop_sequence, sequence);
    });
  }

  it('turns parallel tool calls into tool_use blocks, keeping or making ids', () => {
    const m = message(
      completion(
        {
          content: 'Checking both.',
          tool_calls: [
            {
              id: 'call_abc',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            { type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
            { id: 'chatcmpl-tool.7:x', type: 'function', function: { name: 'get_time', arguments: '' } },
            { id: 'call_obj', type: 'function', function: { name: 'get_time', arguments: { tz: 'UTC' } } },
          ],
        },
        {},
        { finish_reason: 'tool_calls' },
      ),
    );
    const content = m.content as Obj[];
    assert.equal(content.length, 5);
    assert.deepEqual(content[0], { type: 'text', text: 'Checking both.', citations: null });
    assert.deepEqual(content[1], {
      type: 'tool_use',
      id: 'call_abc',
      name: 'get_weather',
      input: { city: 'Paris' },
    });
    const made = content[2] as Obj;
    assert.match(made.id as string, /^toolu_01[1-9A-HJ-NP-Za-km-z]{22}$/);
    assert.deepEqual(
      { ...made, id: 'x' },
      { type: 'tool_use', id: 'x', name: 'get_weather', input: { city: 'Oslo' } },
    );
    assert.deepEqual(content[3], { type: 'tool_use', id: 'chatcmpl-tool_7_x', name: 'get_time', input: {} });
    assert.deepEqual(content[4], {
      type: 'tool_use',
      id: 'call_obj',
      name: 'get_time',
      input: { tz: 'UTC' },
    });
    assert.equal(m.stop_reason, 'tool_use');
  });

  it('refuses tool arguments that are not a JSON object, saying which', () => {
    const call = (args: unknown): Obj =>
      completion({
        content: null,
        tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: args } }],
      });
    assert.equal(
      unusable(call('{"city": "Par')),
      'choices.0.message.tool_calls.0.function.arguments: not valid JSON',
    );
    assert.equal(
      unusable(call('[1,2]')),
      'choices.0.message.tool_calls.0.function.arguments: not a JSON object',
    );
    assert.equal(unusable(call(42)), 'choices.0.message.tool_calls.0.function.arguments: not a string');
  });

  it('leaves out reasoning_content (thinking is never requested) and empty text', () => {
    const m = message(completion({ content: '', reasoning_content: 'Let me think…', reasoning: 'x' }));
    assert.deepEqual(m.content, []);
    const t = message(completion({ content: 'The answer is 4.', reasoning_content: 'Two plus two.' }));
    assert.deepEqual(t.content, [{ type: 'text', text: 'The answer is 4.', citations: null }]);
  });

  it('accepts content as a list of text parts', () => {
    const m = message(
      completion({
        content: [
          { type: 'text', text: 'a' },
          { type: 'text', text: 'b' },
        ],
      }),
    );
    assert.deepEqual(m.content, [
      { type: 'text', text: 'a', citations: null },
      { type: 'text', text: 'b', citations: null },
    ]);
  });

  it('derives the id from a long completion id, else makes a random one', () => {
    const random = /^msg_01[1-9A-HJ-NP-Za-km-z]{22}$/;
    assert.match(message(completion({ content: 'a' }, { id: undefined })).id as string, random);
    assert.match(message(completion({ content: 'a' }, { id: 'chatcmpl-593' })).id as string, random);
    assert.equal(
      message(completion({ content: 'a' }, { id: 'chatcmpl-A1b2C3d4E5f6G7h8I9j0' })).id,
      'msg_A1b2C3d4E5f6G7h8I9j0',
    );
  });

  it('says what is wrong with an unusable body', () => {
    assert.equal(unusable('nope'), 'body: not a JSON object');
    assert.equal(unusable({ choices: [] }), 'choices: missing or empty');
    assert.equal(
      unusable({ error: { message: 'model overloaded' } }),
      'choices: missing or empty (error: model overloaded)',
    );
    assert.equal(unusable({ choices: [{ index: 0 }] }), 'choices.0.message: missing');
    assert.equal(
      unusable(completion({ content: 'a', tool_calls: [{ function: { arguments: '{}' } }] })),
      'choices.0.message.tool_calls.0.function.name: missing',
    );
    assert.equal(
      unusable(completion({ content: 7 })),
      'choices.0.message.content: neither a string nor a list of parts',
    );
  });
});

describe('toAnthropicError', () => {
  it('reads the OpenAI error shape', () => {
    assert.deepEqual(
      toAnthropicError(400, {
        error: {
          message: "This model's maximum context length is 4096 tokens.",
          type: 'invalid_request_error',
          code: null,
          param: 'messages',
        },
      }),
      { type: 'invalid_request_error', message: "This model's maximum context length is 4096 tokens." },
    );
    assert.deepEqual(toAnthropicError(401, { error: { type: 'invalid_api_key', code: 'invalid_api_key' } }), {
      type: 'authentication_error',
      message: 'invalid_api_key',
    });
  });

  it("reads vLLM's, TGI's and FastAPI's shapes", () => {
    assert.deepEqual(
      toAnthropicError(404, {
        object: 'error',
        message: 'The model `x` does not exist.',
        type: 'NotFoundError',
        code: 404,
      }),
      {
        type: 'not_found_error',
        message: 'The model `x` does not exist.',
      },
    );
    assert.deepEqual(toAnthropicError(429, { error: 'Model is overloaded', error_type: 'overloaded' }), {
      type: 'rate_limit_error',
      message: 'Model is overloaded',
    });
    assert.deepEqual(
      toAnthropicError(422, { detail: [{ loc: ['body', 'messages'], msg: 'field required' }] }),
      {
        type: 'invalid_request_error',
        message: '[{"loc":["body","messages"],"msg":"field required"}]',
      },
    );
  });

  it('uses plain text, collapsed, or the status when the body says nothing', () => {
    assert.deepEqual(toAnthropicErrorFromText(502, '<html>\n  <body>Bad   gateway</body>\n</html>\n'), {
      type: 'api_error',
      message: '<html> <body>Bad gateway</body> </html>',
    });
    assert.deepEqual(toAnthropicErrorFromText(503, ''), {
      type: 'overloaded_error',
      message: 'Upstream returned HTTP 503',
    });
    assert.deepEqual(toAnthropicErrorFromText(500, '{"error":{"message":"CUDA out of memory"}}'), {
      type: 'api_error',
      message: 'CUDA out of memory',
    });
    assert.deepEqual(toAnthropicErrorFromText(500, '{not json'), { type: 'api_error', message: '{not json' });
    assert.deepEqual(toAnthropicError(500, 42), { type: 'api_error', message: 'Upstream returned HTTP 500' });
  });

  it('bounds the message', () => {
    const e = toAnthropicError(400, { error: { message: 'x'.repeat(50_000) } });
    assert.equal(e.message.length, MAX_ERROR_MESSAGE);
    assert.ok(e.message.endsWith('…'));
  });
});
