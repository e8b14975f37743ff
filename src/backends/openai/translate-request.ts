// Anthropic Messages `params` -> an OpenAI `/v1/chat/completions` request body. Whatever has no faithful
// counterpart makes the whole request untranslatable, with a message naming the feature: a request is never sent
// with part of its content silently dropped. Only hints with no effect on the answer are ignored (`cache_control`,
// `service_tier`, text block `citations`).
//
// Decisions worth knowing:
// - `thinking`: only `{type:'disabled'}` (or absent) is accepted. Chat completions have no portable thinking
//   budget, and the reasoning local servers emit carries no signature, so neither the request nor replayed
//   `thinking` blocks can keep the Messages API contract.
// - `top_k` is sent as an extra top-level field: vLLM, llama.cpp and SGLang honour it, OpenAI itself rejects it
//   with a 400 (which the client then sees), so it is never lost without notice.
// - `max_tokens` keeps its name: local servers all accept it; `max_completion_tokens` is OpenAI-only.
// - A final assistant turn with text is a prefill: it is sent with vLLM/SGLang's `continue_final_message: true`
//   and `add_generation_prompt: false`, so the answer continues it (llama.cpp and Ollama continue a trailing
//   assistant message on their own). An empty final assistant turn carries nothing and is left out.
// - Structured outputs (`output_config.format` / beta `output_format`) -> `response_format` json_schema, strict,
//   since the Messages API guarantees the schema too.
import { isJsonObject as isObj, type JsonObject } from '../../wire/json-object.ts';

type Obj = JsonObject;

export type RequestTranslation = { ok: true; body: Record<string, unknown> } | { ok: false; message: string };

const TARGET = 'an OpenAI-compatible backend';

/** Thrown inside the translation, caught at the top: keeps the block walkers free of result plumbing. */
class Untranslatable extends Error {}

function fail(path: string, what: string, why?: string): never {
  throw new Untranslatable(`${path}: ${what} cannot be sent to ${TARGET}${why ? ` (${why})` : ''}`);
}

/** Optional fields accept `null` as "absent", as the validator does. */
function absent(v: unknown): boolean {
  return v === undefined || v === null;
}

/** Top-level keys translated (or deliberately ignored) below; any other key present makes the request fail. */
const KNOWN_KEYS = new Set([
  'model',
  'max_tokens',
  'messages',
  'system',
  'metadata',
  'stop_sequences',
  'temperature',
  'top_p',
  'top_k',
  'thinking',
  'tools',
  'tool_choice',
  'stream',
  'output_config',
  'output_format',
  // Hints with no effect on the answer's content.
  'cache_control',
  'service_tier',
]);

/** Readable names for the top-level features that cannot be translated (the key itself for the rest). */
const FEATURE_NAMES: Record<string, string> = {
  mcp_servers: 'the MCP connector (mcp_servers)',
  container: 'code execution containers (container)',
  context_management: 'context management (context_management)',
  inference_geo: 'inference_geo',
};

/** Why some block types cannot be translated, for the error message. */
const BLOCK_REASONS: Record<string, string> = {
  thinking: 'their signatures cannot be verified or replayed',
  redacted_thinking: 'their signatures cannot be verified or replayed',
  document: 'chat completions have no document input',
  search_result: 'chat completions have no search result input',
};

function unsupportedBlock(path: string, type: unknown): never {
  const t = String(type);
  return fail(path, `${t} blocks`, BLOCK_REASONS[t] ?? 'chat completions have no equivalent');
}

/** One text part alone becomes a plain string, which every server and chat template accepts. */
function partsContent(parts: Obj[]): string | Obj[] {
  const only = parts.length === 1 ? parts[0] : undefined;
  return only !== undefined && only.type === 'text' ? (only.text as string) : parts;
}

/** `system` (top-level or a `role:'system'` message): a string or text blocks. */
function systemContent(path: string, v: unknown): string | Obj[] {
  if (typeof v === 'string') return v;
  const parts: Obj[] = [];
  const blocks = v as unknown[];
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i] as Obj;
    if (b.type !== 'text') unsupportedBlock(`${path}.${i}`, b.type);
    parts.push({ type: 'text', text: b.text });
  }
  return partsContent(parts);
}

function imagePart(path: string, b: Obj): Obj {
  const s = b.source as Obj;
  if (s.type === 'base64') {
    return { type: 'image_url', image_url: { url: `data:${s.media_type};base64,${s.data}` } };
  }
  if (s.type === 'url') return { type: 'image_url', image_url: { url: s.url } };
  return fail(`${path}.source`, `image sources of type '${String(s.type)}'`);
}

/** A `tool_result` block -> a `role:'tool'` message; chat completions only carry text there. */
function toolMessage(path: string, b: Obj): Obj {
  const c = b.content;
  let text: string;
  if (absent(c)) text = '';
  else if (typeof c === 'string') text = c;
  else {
    const texts: string[] = [];
    const items = c as unknown[];
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as Obj;
      if (item.type === 'image') fail(`${path}.content.${i}`, 'images inside tool_result blocks');
      if (item.type !== 'text') unsupportedBlock(`${path}.content.${i}`, item.type);
      texts.push(item.text as string);
    }
    text = texts.join('\n');
  }
  // Chat completions have no error flag on tool messages: say it in the text so the model still sees it.
  if (b.is_error === true) text = text === '' ? 'Error' : `Error: ${text}`;
  return { role: 'tool', tool_call_id: b.tool_use_id, content: text };
}

/** Tool results first (they must follow the assistant's tool calls), then the rest as one user message. */
function userTurn(path: string, content: unknown, out: Obj[]): void {
  if (typeof content === 'string') {
    out.push({ role: 'user', content });
    return;
  }
  const parts: Obj[] = [];
  const blocks = content as unknown[];
  for (let i = 0; i < blocks.length; i++) {
    const bp = `${path}.content.${i}`;
    const b = blocks[i] as Obj;
    switch (b.type) {
      case 'text':
        parts.push({ type: 'text', text: b.text });
        break;
      case 'image':
        parts.push(imagePart(bp, b));
        break;
      case 'tool_result':
        out.push(toolMessage(bp, b));
        break;
      default:
        unsupportedBlock(bp, b.type);
    }
  }
  if (parts.length > 0) out.push({ role: 'user', content: partsContent(parts) });
}

/** Returns true when the turn is a prefill the answer must continue. */
function assistantTurn(path: string, content: unknown, last: boolean, out: Obj[]): boolean {
  if (typeof content === 'string') {
    if (content === '' && last) return false;
    out.push({ role: 'assistant', content });
    return last;
  }
  const parts: Obj[] = [];
  const calls: Obj[] = [];
  const blocks = content as unknown[];
  for (let i = 0; i < blocks.length; i++) {
    const bp = `${path}.content.${i}`;
    const b = blocks[i] as Obj;
    switch (b.type) {
      case 'text':
        parts.push({ type: 'text', text: b.text });
        break;
      case 'tool_use':
        calls.push({
          id: b.id,
          type: 'function',
          function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) },
        });
        break;
      case 'image':
        fail(bp, 'image blocks in assistant turns');
        break;
      default:
        unsupportedBlock(bp, b.type);
    }
  }
  if (parts.length === 0 && calls.length === 0 && last) return false;
  const msg: Obj = { role: 'assistant', content: parts.length > 0 ? partsContent(parts) : null };
  if (calls.length > 0) msg.tool_calls = calls;
  out.push(msg);
  return last && calls.length === 0;
}

function messages(list: unknown[], out: Obj[]): boolean {
  let prefill = false;
  for (let i = 0; i < list.length; i++) {
    const path = `messages.${i}`;
    const m = list[i] as Obj;
    if (m.role === 'user') userTurn(path, m.content, out);
    else if (m.role === 'assistant') prefill = assistantTurn(path, m.content, i === list.length - 1, out);
    else if (m.role === 'system')
      out.push({ role: 'system', content: systemContent(`${path}.content`, m.content) });
    else fail(`${path}.role`, `messages with role '${String(m.role)}'`);
  }
  return prefill;
}

const TOOL_KEYS = new Set(['type', 'name', 'description', 'input_schema', 'strict', 'cache_control']);

function tool(path: string, t: Obj): Obj {
  if (!absent(t.type) && t.type !== 'custom') {
    fail(path, `server tools (type '${String(t.type)}')`, 'they run only on the Anthropic API');
  }
  for (const key of Object.keys(t)) {
    if (!TOOL_KEYS.has(key) && !absent(t[key])) fail(`${path}.${key}`, `the tool option ${key}`);
  }
  const fn: Obj = { name: t.name };
  if (typeof t.description === 'string') fn.description = t.description;
  fn.parameters = t.input_schema;
  if (typeof t.strict === 'boolean') fn.strict = t.strict;
  return { type: 'function', function: fn };
}

function toolChoice(c: Obj, body: Obj): void {
  switch (c.type) {
    case 'auto':
      body.tool_choice = 'auto';
      break;
    case 'any':
      body.tool_choice = 'required';
      break;
    case 'tool':
      body.tool_choice = { type: 'function', function: { name: c.name } };
      break;
    case 'none':
      body.tool_choice = 'none';
      return;
    default:
      fail('tool_choice.type', `tool_choice '${String(c.type)}'`);
  }
  if (c.disable_parallel_tool_use === true) body.parallel_tool_calls = false;
}

function responseFormat(path: string, f: unknown): Obj {
  if (!isObj(f) || f.type !== 'json_schema') {
    return fail(`${path}.type`, `output formats other than json_schema`);
  }
  return { type: 'json_schema', json_schema: { name: 'output', schema: f.schema, strict: true } };
}

function outputConfig(c: unknown, body: Obj): void {
  if (!isObj(c)) fail('output_config', 'output_config that is not an object');
  for (const key of Object.keys(c)) {
    if (key !== 'format' && !absent(c[key])) fail(`output_config.${key}`, `output_config.${key}`);
  }
  if (!absent(c.format)) body.response_format = responseFormat('output_config.format', c.format);
}

function translate(p: Obj): Obj {
  for (const key of Object.keys(p)) {
    if (!KNOWN_KEYS.has(key) && !absent(p[key])) fail(key, FEATURE_NAMES[key] ?? key);
  }
  if (!absent(p.stream) && p.stream !== false) fail('stream', 'streaming (stream: true)');
  if (!absent(p.thinking) && !(isObj(p.thinking) && p.thinking.type === 'disabled')) {
    const t = isObj(p.thinking) ? String(p.thinking.type) : 'invalid';
    fail('thinking', `extended thinking (type '${t}')`, "only {type: 'disabled'} is accepted");
  }

  const msgs: Obj[] = [];
  if (!absent(p.system)) {
    const sys = systemContent('system', p.system);
    if (sys.length > 0) msgs.push({ role: 'system', content: sys });
  }
  const prefill = messages(p.messages as unknown[], msgs);

  const body: Obj = { model: p.model, messages: msgs, max_tokens: p.max_tokens };
  if (prefill) {
    body.continue_final_message = true;
    body.add_generation_prompt = false;
  }
  if (Array.isArray(p.stop_sequences) && p.stop_sequences.length > 0) body.stop = p.stop_sequences;
  if (!absent(p.temperature)) body.temperature = p.temperature;
  if (!absent(p.top_p)) body.top_p = p.top_p;
  if (!absent(p.top_k)) body.top_k = p.top_k;
  if (isObj(p.metadata) && typeof p.metadata.user_id === 'string') body.user = p.metadata.user_id;

  // OpenAI rejects an empty `tools` list, and an empty list means no tools anyway.
  if (Array.isArray(p.tools) && p.tools.length > 0) {
    body.tools = p.tools.map((t, i) => tool(`tools.${i}`, t as Obj));
  }
  if (isObj(p.tool_choice)) toolChoice(p.tool_choice, body);

  if (!absent(p.output_config)) outputConfig(p.output_config, body);
  if (!absent(p.output_format)) {
    if (body.response_format !== undefined)
      fail('output_format', 'output_format together with output_config.format');
    body.response_format = responseFormat('output_format', p.output_format);
  }
  return body;
}

/**
 * Translates validated Messages API `params` into a non-streaming chat completions body, or says which feature
 * cannot be translated (the request then fails with `invalid_request_error` and no upstream call is made).
 */
export function toChatCompletionRequest(params: Record<string, unknown>): RequestTranslation {
  try {
    return { ok: true, body: translate(params) };
  } catch (err) {
    if (err instanceof Untranslatable) return { ok: false, message: err.message };
    // Validated params never get here; one odd request must not take a worker down.
    return { ok: false, message: 'params: could not be translated for an OpenAI-compatible backend' };
  }
}
