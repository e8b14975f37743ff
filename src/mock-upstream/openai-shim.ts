// The OpenAI chat-completions face of the mock upstream: a chat request becomes Anthropic-shaped params for the
// mock model, and the mock's Message becomes a `chat.completion` as vLLM would answer it. Pure functions only;
// the HTTP side lives in mock-upstream-server.ts and upstream-wire.ts.
import { isJsonObject as isObj, type JsonObject } from '../wire/json-object.ts';
import type { LimitSnapshot } from './rate-budget.ts';

type Obj = JsonObject;

export const OPENAI_CHAT_PATH = '/v1/chat/completions';

/** A translated request, or why it was refused. */
export type ChatTranslation = { ok: true; params: Obj } | { ok: false; message: string };

class Refusal extends Error {}

function fail(message: string): never {
  throw new Refusal(message);
}

/** `data:image/png;base64,xxx` as an Anthropic base64 source; any other URL as a url source. */
function imageSource(url: string): Obj {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  return m ? { type: 'base64', media_type: m[1], data: m[2] } : { type: 'url', url };
}

function userPart(part: unknown, where: string): Obj {
  if (!isObj(part)) fail(`${where} must be an object`);
  switch (part.type) {
    case 'text':
      if (typeof part.text !== 'string') fail(`${where}.text must be a string`);
      return { type: 'text', text: part.text };
    case 'image_url': {
      const img = part.image_url;
      const url = isObj(img) ? img.url : undefined;
      if (typeof url !== 'string') fail(`${where}.image_url.url must be a string`);
      return { type: 'image', source: imageSource(url) };
    }
    case 'file': {
      const data = isObj(part.file) ? part.file.file_data : undefined;
      if (typeof data !== 'string') fail(`${where}.file.file_data must be a string`);
      const m = /^data:([^;,]+);base64,(.*)$/s.exec(data);
      return {
        type: 'document',
        source: { type: 'base64', media_type: m ? m[1] : 'application/pdf', data: m ? m[2] : data },
      };
    }
    default:
      return fail(`${where}.type ${JSON.stringify(part.type)} is not supported`);
  }
}

/** Text of a string-or-text-parts content (system, developer, tool and assistant turns). */
function plainText(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (!Array.isArray(content)) fail(`${where} must be a string or an array of parts`);
  return content
    .map((p, i) => {
      if (!isObj(p) || p.type !== 'text' || typeof p.text !== 'string') {
        fail(`${where}[${i}] must be a text part`);
      }
      return p.text;
    })
    .join('\n');
}

function toolUse(call: unknown, where: string): Obj {
  const fn = isObj(call) ? call.function : undefined;
  if (!isObj(call) || !isObj(fn) || typeof fn.name !== 'string' || typeof call.id !== 'string') {
    fail(`${where} must be {id, type: "function", function: {name, arguments}}`);
  }
  let input: unknown = {};
  if (typeof fn.arguments === 'string' && fn.arguments.trim() !== '') {
    try {
      input = JSON.parse(fn.arguments);
    } catch {
      fail(`${where}.function.arguments is not valid JSON`);
    }
  }
  return { type: 'tool_use', id: call.id, name: fn.name, input: isObj(input) ? input : {} };
}

/** One chat message as Anthropic blocks, with the Anthropic role it belongs to (null: system text). */
function translateMessage(m: unknown, i: number): { role: 'user' | 'assistant' | null; blocks: Obj[] } {
  const where = `messages[${i}]`;
  if (!isObj(m)) fail(`${where} must be an object`);
  switch (m.role) {
    case 'system':
    case 'developer':
      return { role: null, blocks: [{ type: 'text', text: plainText(m.content, `${where}.content`) }] };
    case 'user': {
      if (typeof m.content === 'string') return { role: 'user', blocks: [{ type: 'text', text: m.content }] };
      if (!Array.isArray(m.content)) fail(`${where}.content must be a string or an array`);
      return { role: 'user', blocks: m.content.map((p, j) => userPart(p, `${where}.content[${j}]`)) };
    }
    case 'assistant': {
      const blocks: Obj[] = [];
      const text = plainText(m.content, `${where}.content`);
      if (text) blocks.push({ type: 'text', text });
      if (m.tool_calls !== undefined && m.tool_calls !== null) {
        if (!Array.isArray(m.tool_calls)) fail(`${where}.tool_calls must be an array`);
        m.tool_calls.forEach((c, j) => {
          blocks.push(toolUse(c, `${where}.tool_calls[${j}]`));
        });
      }
      return { role: 'assistant', blocks };
    }
    case 'tool': {
      if (typeof m.tool_call_id !== 'string') fail(`${where}.tool_call_id is required`);
      const content = plainText(m.content, `${where}.content`);
      return { role: 'user', blocks: [{ type: 'tool_result', tool_use_id: m.tool_call_id, content }] };
    }
    default:
      return fail(`${where}.role ${JSON.stringify(m.role)} is not supported`);
  }
}

function translateTools(tools: unknown): Obj[] | undefined {
  if (tools === undefined || tools === null) return undefined;
  if (!Array.isArray(tools)) fail('tools must be an array');
  return tools.map((t, i) => {
    const fn = isObj(t) ? t.function : undefined;
    if (!isObj(t) || t.type !== 'function' || !isObj(fn) || typeof fn.name !== 'string') {
      fail(`tools[${i}] must be {type: "function", function: {name, parameters}}`);
    }
    const tool: Obj = {
      name: fn.name,
      input_schema: isObj(fn.parameters) ? fn.parameters : { type: 'object' },
    };
    if (typeof fn.description === 'string') tool.description = fn.description;
    return tool;
  });
}

function translateToolChoice(choice: unknown): Obj | undefined {
  if (choice === undefined || choice === null) return undefined;
  if (choice === 'none' || choice === 'auto') return { type: choice };
  if (choice === 'required') return { type: 'any' };
  const fn = isObj(choice) ? choice.function : undefined;
  if (isObj(choice) && choice.type === 'function' && isObj(fn) && typeof fn.name === 'string') {
    return { type: 'tool', name: fn.name };
  }
  return fail('tool_choice must be "none", "auto", "required" or {type: "function", function: {name}}');
}

function translateStop(stop: unknown): string[] | undefined {
  if (stop === undefined || stop === null) return undefined;
  if (typeof stop === 'string') return [stop];
  if (Array.isArray(stop) && stop.every((s) => typeof s === 'string')) return stop as string[];
  return fail('stop must be a string or an array of strings');
}

function translateMaxTokens(body: Obj): number | undefined {
  for (const key of ['max_completion_tokens', 'max_tokens'] as const) {
    const v = body[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(`${key} must be a positive integer`);
    return v;
  }
  return undefined;
}

/** Translates a chat-completions request body into Anthropic Messages params for the mock model. */
export function chatRequestToParams(body: unknown): ChatTranslation {
  try {
    if (!isObj(body)) fail('the request body must be a JSON object');
    if (typeof body.model !== 'string' || body.model === '') fail('model is required');
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      fail('messages must be a non-empty array');
    }
    if (body.stream === true) fail('stream is not supported by the mock upstream');
    if (body.n !== undefined && body.n !== null && body.n !== 1) fail('only n = 1 is supported');

    const system: string[] = [];
    const messages: Obj[] = [];
    body.messages.forEach((m, i) => {
      const { role, blocks } = translateMessage(m, i);
      if (role === null) {
        system.push(blocks.map((b) => b.text as string).join('\n'));
        return;
      }
      // Anthropic turns alternate: consecutive same-role messages (tool results, then a user note) merge.
      const last = messages.at(-1);
      if (last && last.role === role) (last.content as Obj[]).push(...blocks);
      else messages.push({ role, content: blocks });
    });
    if (messages.length === 0) fail('messages must contain a user or assistant message');

    const params: Obj = { model: body.model, messages };
    const maxTokens = translateMaxTokens(body);
    if (maxTokens !== undefined) params.max_tokens = maxTokens;
    if (system.length > 0) params.system = system.join('\n');
    const tools = translateTools(body.tools);
    if (tools) params.tools = tools;
    const choice = translateToolChoice(body.tool_choice);
    if (choice) params.tool_choice = choice;
    const stop = translateStop(body.stop);
    if (stop) params.stop_sequences = stop;
    return { ok: true, params };
  } catch (err) {
    if (err instanceof Refusal) return { ok: false, message: err.message };
    throw err;
  }
}

const FINISH: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
};

/** `msg_01…` → `chatcmpl-01…`, `toolu_01…` → `call_01…`: deterministic ids in the OpenAI style. */
function swapPrefix(id: unknown, prefix: string): string {
  const s = typeof id === 'string' ? id : '';
  return prefix + s.slice(s.indexOf('_') + 1);
}

/** The mock's Message as a `chat.completion` object (vLLM flavour: `stop_reason` holds a matched stop string). */
export function chatCompletion(message: Obj, createdSeconds: number): Obj {
  const blocks = Array.isArray(message.content) ? message.content.filter(isObj) : [];
  const text = blocks
    .filter((b) => b.type === 'text')
    .map((b) => b.text as string)
    .join('');
  const toolCalls = blocks
    .filter((b) => b.type === 'tool_use')
    .map((b) => ({
      id: swapPrefix(b.id, 'call_'),
      type: 'function',
      function: { name: b.name, arguments: JSON.stringify(b.input) },
    }));
  const reply: Obj = { role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text };
  if (toolCalls.length > 0) reply.tool_calls = toolCalls;
  reply.refusal = null;
  const usage = isObj(message.usage) ? message.usage : {};
  const prompt = typeof usage.input_tokens === 'number' ? usage.input_tokens : 0;
  const completion = typeof usage.output_tokens === 'number' ? usage.output_tokens : 0;
  return {
    id: swapPrefix(message.id, 'chatcmpl-'),
    object: 'chat.completion',
    created: createdSeconds,
    model: message.model,
    choices: [
      {
        index: 0,
        message: reply,
        logprobs: null,
        finish_reason: FINISH[String(message.stop_reason)] ?? 'stop',
        stop_reason: message.stop_sequence ?? null,
      },
    ],
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: 0 },
    },
  };
}

/** The OpenAI error body: `{"error": {message, type, param, code}}`. */
export function openAiErrorBody(
  message: string,
  type: string,
  code: string | null,
  param: string | null = null,
) {
  return { error: { message, type, param, code } };
}

/**
 * Milliseconds as Go's `time.Duration.String()` prints them (OpenAI's reset headers): `0s`, `12ms`, `1s`,
 * `1.5s`, `6m0s`, `1h2m3s`.
 */
export function goDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total === 0) return '0s';
  if (total < 1000) return `${total}ms`;
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = `${(total % 60_000) / 1000}s`;
  if (h > 0) return `${h}h${m}m${s}`;
  return m > 0 ? `${m}m${s}` : s;
}

/** `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, for the dimensions that have a budget. */
export function openAiRateLimitHeaders(
  requests: LimitSnapshot | undefined,
  tokens: LimitSnapshot | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, s] of [
    ['requests', requests],
    ['tokens', tokens],
  ] as const) {
    if (!s) continue;
    out[`x-ratelimit-limit-${name}`] = String(s.limit);
    out[`x-ratelimit-remaining-${name}`] = String(s.remaining);
    out[`x-ratelimit-reset-${name}`] = goDuration(s.resetMs);
  }
  return out;
}
