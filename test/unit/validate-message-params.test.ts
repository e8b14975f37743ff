import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateMessageParams } from '../../src/wire/validate-message-params.ts';

const V1 = '2023-06-01';
const V2 = '2026-10-21';

const minimal = () => ({
  model: 'claude-sonnet-4-5',
  max_tokens: 16,
  messages: [{ role: 'user', content: 'Hi' }],
});

/** The problem reported for `minimal()` with `patch` applied (`undefined` deletes a key). */
function problem(patch: Record<string, unknown>, version = V1): string | null {
  const params: Record<string, unknown> = { ...minimal(), ...patch };
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete params[k];
  return validateMessageParams(params, version);
}

/** The problem reported for one message whose content is `blocks`. */
function blockProblem(blocks: unknown[], role = 'user', version = V1): string | null {
  return problem({ messages: [{ role, content: blocks }] }, version);
}

describe('validateMessageParams: valid requests', () => {
  it('accepts a minimal request under both versions', () => {
    assert.equal(validateMessageParams(minimal(), V1), null);
    assert.equal(validateMessageParams(minimal(), V2), null);
  });

  it('accepts a rich request', () => {
    const params = {
      model: 'claude-opus-4-1',
      max_tokens: 4096,
      system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral', ttl: '1h' } }],
      metadata: { user_id: 'u-1' },
      stop_sequences: ['END'],
      temperature: 0.5,
      top_p: 0.9,
      top_k: 40,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      stream: false,
      service_tier: 'auto',
      cache_control: { type: 'ephemeral' },
      container: null,
      context_management: { edits: [] },
      output_config: { effort: 'low' },
      inference_geo: 'us',
      diagnostics: null,
      user_profile_id: 'prof_1',
      mcp_servers: [],
      speed: null,
      tools: [
        {
          name: 'get_weather',
          description: 'Weather',
          input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
        { type: 'custom', name: 'noop', input_schema: { type: 'object' } },
        { type: 'web_search_20250305', name: 'web_search', max_uses: 3 },
      ],
      tool_choice: { type: 'tool', name: 'web_search', disable_parallel_tool_use: true },
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Look at these', citations: null },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBOR' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/a.jpg' } },
            { type: 'image', source: { type: 'file', file_id: 'file_1' } },
            {
              type: 'document',
              source: { type: 'base64', media_type: 'application/pdf', data: 'JVBER' },
              title: 'T',
            },
            {
              type: 'document',
              source: { type: 'text', media_type: 'text/plain', data: 'plain' },
              context: null,
            },
            { type: 'document', source: { type: 'content', content: [{ type: 'text', text: 'inner' }] } },
            {
              type: 'document',
              source: { type: 'url', url: 'https://example.com/a.pdf' },
              citations: { enabled: true },
            },
            { type: 'document', source: { type: 'file', file_id: 'file_2' } },
            {
              type: 'search_result',
              source: 'https://s',
              title: 'S',
              content: [{ type: 'text', text: 'r' }],
            },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'hmm', signature: 'sig' },
            { type: 'redacted_thinking', data: 'xyz' },
            { type: 'text', text: 'Calling a tool.' },
            { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } },
            { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'q' } },
            { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [] },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_01', content: 'Sunny' },
            {
              type: 'tool_result',
              tool_use_id: 'toolu_01',
              content: [{ type: 'text', text: 'ok' }],
              is_error: false,
            },
          ],
        },
        { role: 'assistant', content: '' },
      ],
    };
    assert.equal(validateMessageParams(params, V1), null);
  });

  it('accepts the other thinking modes and tool choices', () => {
    assert.equal(problem({ thinking: { type: 'disabled' } }), null);
    assert.equal(problem({ thinking: { type: 'adaptive', display: 'summarized' } }), null);
    for (const type of ['auto', 'any', 'none']) {
      assert.equal(problem({ tool_choice: { type } }), null);
    }
  });

  it('accepts system-role messages under 2026-10-21 only', () => {
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
    ];
    assert.equal(problem({ messages }, V2), null);
    assert.equal(problem({ messages }, V1), "messages.0.role: Input should be 'user' or 'assistant'");
  });
});

describe('validateMessageParams: top level', () => {
  it('requires an object', () => {
    for (const v of [null, 1, 'x', [], true]) {
      assert.equal(validateMessageParams(v, V1), 'params: Input should be a valid dictionary');
    }
  });

  it('checks model', () => {
    assert.equal(problem({ model: undefined }), 'model: Field required');
    assert.equal(problem({ model: 3 }), 'model: Input should be a valid string');
    assert.equal(problem({ model: '' }), 'model: String should have at least 1 character');
    assert.equal(problem({ model: 'm'.repeat(257) }), 'model: String should have at most 256 characters');
    assert.equal(problem({ model: 'm'.repeat(256) }), null);
  });

  it('checks max_tokens', () => {
    assert.equal(problem({ max_tokens: undefined }), 'max_tokens: Field required');
    assert.equal(problem({ max_tokens: 0 }), 'max_tokens: Input should be greater than or equal to 1');
    assert.equal(problem({ max_tokens: -5 }), 'max_tokens: Input should be greater than or equal to 1');
    assert.equal(problem({ max_tokens: '10' }), 'max_tokens: Input should be a valid integer');
    assert.equal(
      problem({ max_tokens: 1.5 }),
      'max_tokens: Input should be a valid integer, got a number with a fractional part',
    );
    assert.equal(problem({ max_tokens: 1 }), null);
  });

  it('rejects unknown keys', () => {
    assert.equal(problem({ foo: 1 }), 'foo: Extra inputs are not permitted');
    const base = '"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}]';
    for (const key of ['__proto__', 'constructor', 'toString']) {
      const params = JSON.parse(`{${base},"${key}":{}}`);
      assert.equal(validateMessageParams(params, V1), `${key}: Extra inputs are not permitted`);
    }
  });

  it('lets unknown keys through for pass-through backends, and still checks everything it knows', () => {
    const base = { model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }] };
    const pass = { passThroughUnknown: true };
    assert.equal(validateMessageParams({ ...base, future_param: { a: 1 } }, V1, pass), null);
    assert.equal(
      validateMessageParams({ ...base, future_param: 1, temperature: 7 }, V1, pass),
      'temperature: Input should be less than or equal to 1',
    );
    assert.equal(
      validateMessageParams({ ...base, stream: true }, V1, pass),
      'stream: batch requests do not support streaming; omit stream or set it to false',
    );
    assert.equal(
      validateMessageParams({ ...base, max_tokens: 0 }, V1, pass)?.startsWith('max_tokens:'),
      true,
    );
  });

  it('rejects streaming and batch-unsupported features', () => {
    assert.equal(
      problem({ stream: true }),
      'stream: batch requests do not support streaming; omit stream or set it to false',
    );
    assert.equal(problem({ stream: 'yes' }), 'stream: Input should be a valid boolean');
    assert.equal(problem({ stream: false }), null);
    assert.equal(problem({ speed: 'fast' }), 'speed: not supported in batch requests');
    assert.equal(problem({ store: true }), 'store: not supported in batch requests');
  });

  it('allows sampling params under 2023-06-01 and rejects them under 2026-10-21', () => {
    assert.equal(problem({ temperature: 1, top_p: 0.5, top_k: 5 }, V1), null);
    assert.equal(problem({ temperature: 1 }, V2), 'temperature: Extra inputs are not permitted');
    assert.equal(problem({ top_p: 0.5 }, V2), 'top_p: Extra inputs are not permitted');
    assert.equal(problem({ top_k: 5 }, V2), 'top_k: Extra inputs are not permitted');
  });

  it('checks sampling ranges', () => {
    assert.equal(problem({ temperature: 1.5 }), 'temperature: Input should be less than or equal to 1');
    assert.equal(problem({ temperature: -0.1 }), 'temperature: Input should be greater than or equal to 0');
    assert.equal(problem({ temperature: 'hot' }), 'temperature: Input should be a valid number');
    assert.equal(problem({ top_p: 2 }), 'top_p: Input should be less than or equal to 1');
    assert.equal(problem({ top_k: -1 }), 'top_k: Input should be greater than or equal to 0');
    assert.equal(
      problem({ top_k: 0.5 }),
      'top_k: Input should be a valid integer, got a number with a fractional part',
    );
  });

  it('checks system', () => {
    assert.equal(problem({ system: 'Be brief.' }), null);
    assert.equal(problem({ system: 5 }), 'system: Input should be a valid string or a list of text blocks');
    assert.equal(
      problem({ system: [{ type: 'image', source: {} }] }),
      "system.0.type: Input tag 'image' found using 'type' does not match any of the expected tags: 'text'",
    );
    assert.equal(problem({ system: [{ type: 'text' }] }), 'system.0.text: Field required');
  });

  it('checks stop_sequences', () => {
    assert.equal(problem({ stop_sequences: 'END' }), 'stop_sequences: Input should be a valid list');
    assert.equal(problem({ stop_sequences: ['a', 1] }), 'stop_sequences.1: Input should be a valid string');
  });

  it('checks metadata', () => {
    assert.equal(problem({ metadata: { user_id: null } }), null);
    assert.equal(problem({ metadata: 'u' }), 'metadata: Input should be a valid dictionary');
    assert.equal(problem({ metadata: { user_id: 7 } }), 'metadata.user_id: Input should be a valid string');
    assert.equal(
      problem({ metadata: { user_id: 'u'.repeat(257) } }),
      'metadata.user_id: String should have at most 256 characters',
    );
    assert.equal(problem({ metadata: { other: 1 } }), 'metadata.other: Extra inputs are not permitted');
  });

  it('checks thinking', () => {
    assert.equal(problem({ max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 1024 } }), null);
    assert.equal(
      problem({ max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 1000 } }),
      'thinking.budget_tokens: Input should be greater than or equal to 1024',
    );
    assert.equal(
      problem({ max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 2048 } }),
      'max_tokens: must be greater than thinking.budget_tokens',
    );
    assert.equal(problem({ thinking: { type: 'enabled' } }), 'thinking.budget_tokens: Field required');
    assert.match(problem({ thinking: { type: 'on' } }) ?? '', /^thinking\.type: Input tag 'on' found/);
    assert.equal(problem({ thinking: {} }), "thinking: Unable to extract tag using discriminator 'type'");
    assert.equal(
      problem({ thinking: { type: 'adaptive', display: 'full' } }),
      "thinking.display: Input should be 'summarized' or 'omitted'",
    );
  });

  it('checks service_tier and cache_control', () => {
    assert.equal(problem({ service_tier: 'standard_only' }), null);
    assert.equal(
      problem({ service_tier: 'priority' }),
      "service_tier: Input should be 'auto' or 'standard_only'",
    );
    assert.equal(
      problem({ cache_control: { type: 'persistent' } }),
      "cache_control.type: Input should be 'ephemeral'",
    );
    assert.equal(
      problem({ cache_control: { type: 'ephemeral', ttl: '2h' } }),
      "cache_control.ttl: Input should be '5m' or '1h'",
    );
  });
});

describe('validateMessageParams: tools', () => {
  const tool = { name: 'get_weather', input_schema: { type: 'object' } };

  it('checks custom tools', () => {
    assert.equal(problem({ tools: tool }), 'tools: Input should be a valid list');
    assert.equal(problem({ tools: [1] }), 'tools.0: Input should be a valid dictionary');
    assert.equal(problem({ tools: [{ input_schema: { type: 'object' } }] }), 'tools.0.name: Field required');
    assert.equal(
      problem({ tools: [{ name: 'bad name', input_schema: { type: 'object' } }] }),
      "tools.0.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'",
    );
    assert.equal(problem({ tools: [{ name: 'x' }] }), 'tools.0.input_schema: Field required');
    assert.equal(
      problem({ tools: [{ name: 'x', input_schema: { type: 'array' } }] }),
      "tools.0.input_schema.type: Input should be 'object'",
    );
    assert.equal(
      problem({ tools: [tool, tool] }),
      "tools: Tool names must be unique; 'get_weather' is used more than once",
    );
  });

  it('accepts server tools loosely', () => {
    assert.equal(problem({ tools: [{ type: 'bash_20250124', name: 'bash' }] }), null);
    assert.equal(problem({ tools: [{ type: 'future_tool_29990101' }] }), null);
    assert.equal(problem({ tools: [{ type: 5 }] }), 'tools.0.type: Input should be a valid string');
  });

  it('checks tool_choice', () => {
    assert.equal(problem({ tools: [tool], tool_choice: { type: 'tool', name: 'get_weather' } }), null);
    assert.equal(
      problem({ tools: [tool], tool_choice: { type: 'tool', name: 'other' } }),
      "tool_choice.name: no tool named 'other' is defined in tools",
    );
    assert.equal(
      problem({ tool_choice: { type: 'tool', name: 'get_weather' } }),
      "tool_choice.name: no tool named 'get_weather' is defined in tools",
    );
    assert.equal(
      problem({ tools: [tool], tool_choice: { type: 'tool' } }),
      'tool_choice.name: Field required',
    );
    assert.match(
      problem({ tool_choice: { type: 'required' } }) ?? '',
      /^tool_choice\.type: Input tag 'required'/,
    );
    assert.equal(
      problem({ tool_choice: { type: 'auto', disable_parallel_tool_use: 'yes' } }),
      'tool_choice.disable_parallel_tool_use: Input should be a valid boolean',
    );
  });
});

describe('validateMessageParams: messages', () => {
  it('checks the list', () => {
    assert.equal(problem({ messages: undefined }), 'messages: Field required');
    assert.equal(problem({ messages: {} }), 'messages: Input should be a valid list');
    assert.equal(
      problem({ messages: [] }),
      'messages: List should have at least 1 item after validation, not 0',
    );
    assert.equal(problem({ messages: ['hi'] }), 'messages.0: Input should be a valid dictionary');
  });

  it('checks role and content', () => {
    assert.equal(problem({ messages: [{ content: 'x' }] }), 'messages.0.role: Field required');
    assert.equal(
      problem({ messages: [{ role: 'bot', content: 'x' }] }),
      "messages.0.role: Input should be 'user' or 'assistant'",
    );
    assert.equal(
      problem({ messages: [{ role: 'bot', content: 'x' }] }, V2),
      "messages.0.role: Input should be 'user', 'assistant' or 'system'",
    );
    assert.equal(problem({ messages: [{ role: 'user' }] }), 'messages.0.content: Field required');
    assert.equal(
      problem({ messages: [{ role: 'user', content: 5 }] }),
      'messages.0.content: Input should be a valid string or a list of content blocks',
    );
    assert.equal(
      problem({ messages: [{ role: 'user', content: [] }] }),
      'messages.0: all messages must have non-empty content except for the optional final assistant message',
    );
    assert.equal(
      problem({ messages: [{ role: 'user', content: '' }] }),
      'messages.0: all messages must have non-empty content except for the optional final assistant message',
    );
  });

  it('reports unknown and missing block tags', () => {
    const msg = blockProblem([{ type: 'foo' }]) ?? '';
    assert.ok(
      msg.startsWith(
        "messages.0.content.0.type: Input tag 'foo' found using 'type' does not match any of the expected tags: 'text', 'image', 'document',",
      ),
      msg,
    );
    assert.equal(
      problem({
        messages: [
          { role: 'user', content: 'a' },
          { role: 'assistant', content: [{ type: 'foo' }] },
        ],
      })?.split(':')[0],
      'messages.1.content.0.type',
    );
    assert.equal(
      blockProblem([{ text: 'x' }]),
      "messages.0.content.0: Unable to extract tag using discriminator 'type'",
    );
    assert.equal(blockProblem(['x']), 'messages.0.content.0: Input should be a valid dictionary');
  });

  it('accepts exotic known block types loosely', () => {
    assert.equal(blockProblem([{ type: 'code_execution_tool_result', anything: 1 }], 'assistant'), null);
    assert.equal(blockProblem([{ type: 'container_upload', file_id: 'f' }]), null);
  });

  it('checks text blocks', () => {
    assert.equal(blockProblem([{ type: 'text' }]), 'messages.0.content.0.text: Field required');
    assert.equal(
      blockProblem([{ type: 'text', text: 1 }]),
      'messages.0.content.0.text: Input should be a valid string',
    );
    assert.equal(
      blockProblem([{ type: 'text', text: '' }]),
      'messages.0.content.0.text: text content blocks must be non-empty',
    );
    assert.equal(
      blockProblem([{ type: 'text', text: 'x', cache_control: { type: 'x' } }]),
      "messages.0.content.0.cache_control.type: Input should be 'ephemeral'",
    );
    assert.equal(
      blockProblem([{ type: 'text', text: 'x', citations: 'c' }]),
      'messages.0.content.0.citations: Input should be a valid list',
    );
  });

  it('checks image blocks', () => {
    assert.match(
      blockProblem([{ type: 'image', source: { type: 'bmp' } }]) ?? '',
      /^messages\.0\.content\.0\.source\.type: Input tag 'bmp' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'$/,
    );
    assert.equal(
      blockProblem([{ type: 'image' }]),
      'messages.0.content.0.source: Input should be a valid dictionary',
    );
    assert.equal(
      blockProblem([{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'x' } }]),
      "messages.0.content.0.source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'",
    );
    assert.equal(
      blockProblem([{ type: 'image', source: { type: 'base64', media_type: 'image/png' } }]),
      'messages.0.content.0.source.data: Field required',
    );
    assert.equal(
      blockProblem([{ type: 'image', source: { type: 'url' } }]),
      'messages.0.content.0.source.url: Field required',
    );
  });

  it('checks document blocks', () => {
    assert.equal(
      blockProblem([{ type: 'document', source: { type: 'base64', media_type: 'image/png', data: 'x' } }]),
      "messages.0.content.0.source.media_type: Input should be 'application/pdf'",
    );
    assert.equal(
      blockProblem([{ type: 'document', source: { type: 'text', media_type: 'text/plain' } }]),
      'messages.0.content.0.source.data: Field required',
    );
    assert.equal(
      blockProblem([
        { type: 'document', source: { type: 'content', content: [{ type: 'document' }] } },
      ])?.split(':')[0],
      'messages.0.content.0.source.content.0.type',
    );
    assert.equal(
      blockProblem([{ type: 'document', source: { type: 'url', url: 'u' }, title: 5 }]),
      'messages.0.content.0.title: Input should be a valid string',
    );
  });

  it('restricts tool_use to assistant turns and tool_result to user turns', () => {
    const use = { type: 'tool_use', id: 'toolu_1', name: 't', input: {} };
    const result = { type: 'tool_result', tool_use_id: 'toolu_1' };
    assert.equal(blockProblem([use], 'assistant'), null);
    assert.equal(
      blockProblem([use], 'user'),
      'messages.0.content.0: tool_use blocks are only allowed in assistant messages',
    );
    assert.equal(blockProblem([result], 'user'), null);
    assert.equal(
      blockProblem([result], 'assistant'),
      'messages.0.content.0: tool_result blocks are only allowed in user messages',
    );
  });

  it('checks tool_use and tool_result fields', () => {
    assert.equal(
      blockProblem([{ type: 'tool_use', id: 'toolu_1', name: 't', input: [] }], 'assistant'),
      'messages.0.content.0.input: Input should be a valid dictionary',
    );
    assert.equal(
      blockProblem([{ type: 'tool_use', id: 'bad id', name: 't', input: {} }], 'assistant'),
      "messages.0.content.0.id: String should match pattern '^[a-zA-Z0-9_-]+$'",
    );
    assert.equal(blockProblem([{ type: 'tool_result' }]), 'messages.0.content.0.tool_use_id: Field required');
    assert.equal(
      blockProblem([{ type: 'tool_result', tool_use_id: 't', is_error: 'no' }]),
      'messages.0.content.0.is_error: Input should be a valid boolean',
    );
    assert.equal(
      blockProblem([{ type: 'tool_result', tool_use_id: 't', content: 3 }]),
      'messages.0.content.0.content: Input should be a valid list',
    );
    assert.equal(
      blockProblem([{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'tool_use' }] }])?.split(
        ':',
      )[0],
      'messages.0.content.0.content.0.type',
    );
  });

  it('checks thinking blocks', () => {
    assert.equal(
      blockProblem([{ type: 'thinking', thinking: 'x' }], 'assistant'),
      'messages.0.content.0.signature: Field required',
    );
    assert.equal(
      blockProblem([{ type: 'redacted_thinking' }], 'assistant'),
      'messages.0.content.0.data: Field required',
    );
  });

  it('applies the 2026-10-21 content rules', () => {
    const doc = { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'd' } };
    assert.equal(blockProblem([doc], 'assistant', V1), null);
    assert.equal(
      blockProblem([doc], 'assistant', V2),
      'messages.0.content.0: document blocks are not allowed in assistant messages',
    );
    const cited = { type: 'text', text: 'x', citations: [{ type: 'char_location' }] };
    assert.equal(blockProblem([cited], 'user', V1), null);
    assert.equal(
      blockProblem([cited], 'user', V2),
      'messages.0.content.0.citations: citations are not allowed on text blocks in user messages',
    );
    assert.equal(
      problem({ messages: [{ role: 'system', content: [{ type: 'image', source: {} }] }] }, V2)?.split(
        ':',
      )[0],
      'messages.0.content.0.type',
    );
  });

  it('never throws on odd shapes', () => {
    const odd: unknown[] = [
      {
        model: 'm',
        max_tokens: 1,
        messages: [{ role: 'user', content: [{ type: 'document', source: null }] }],
      },
      {
        model: 'm',
        max_tokens: 1,
        messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [null] }] }],
      },
      {
        model: 'm',
        max_tokens: 1,
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ name: 'a', input_schema: null }],
      },
      { model: 'm', max_tokens: 1e308, messages: [{ role: 'user', content: [{ type: {} }] }] },
    ];
    for (const p of odd) assert.equal(typeof validateMessageParams(p, V1), 'string');
  });
});
