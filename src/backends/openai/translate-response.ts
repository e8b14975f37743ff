// An OpenAI chat completion -> an Anthropic Message (the `message` of a succeeded result).
//
// Decisions worth knowing:
// - `reasoning_content` / `reasoning` (vLLM, SGLang, DeepSeek, Ollama reasoning parsers) is left out. The request
//   side only accepts thinking disabled, and with thinking disabled the Messages API returns no thinking blocks;
//   a `thinking` block without a signature would also be refused when the client sends it back. Its tokens are
//   still counted in `output_tokens`, as `completion_tokens` includes them.
// - Tool call arguments that are not a JSON object make the completion unusable (an error, retryable by the
//   caller: another sample may be well formed) rather than becoming `{}`, which would call the tool wrongly.
// - Tool calls with `finish_reason: 'stop'` (vLLM and Ollama do this for forced tool choices) still give
//   `stop_reason: 'tool_use'`, since that is what clients look at to run the tools.
import { randomId } from '../../domain/ids.ts';
import { isJsonObject as isObj, type JsonObject } from '../../wire/json-object.ts';
import type { Usage } from '../model-backend.ts';

type Obj = JsonObject;

export type MessageTranslation =
  | { ok: true; message: Record<string, unknown>; usage: Usage }
  | { ok: false; message: string };

const ID_CHARS = /^[A-Za-z0-9_-]+$/;
const NOT_ID_CHARS = /[^A-Za-z0-9_-]/g;
/** Below this many characters a completion id is too weak to be unique (Ollama sends `chatcmpl-593`). */
const MIN_DERIVED_ID = 16;
const MAX_ID = 64;

class Unusable extends Error {}

function bad(path: string, what: string): never {
  throw new Unusable(`${path}: ${what}`);
}

/** `msg_` + the completion id without its `chatcmpl-` prefix, so upstream logs can be matched; else random. */
function messageId(raw: unknown): string {
  if (typeof raw === 'string') {
    const body = raw.replace(/^chatcmpl-/, '').replace(NOT_ID_CHARS, '');
    if (body.length >= MIN_DERIVED_ID) return `msg_${body.slice(0, MAX_ID)}`;
  }
  return randomId('msg');
}

/** Tool call ids are kept (the client sends them back), made to fit the Messages API id pattern. */
function toolUseId(raw: unknown): string {
  if (typeof raw !== 'string' || raw === '') return randomId('toolu');
  return ID_CHARS.test(raw) ? raw : raw.replace(NOT_ID_CHARS, '_');
}

/** Arguments arrive as a JSON string (some servers send the object itself); the input must be an object. */
function toolInput(path: string, args: unknown): Obj {
  if (isObj(args)) return args;
  if (absent(args) || (typeof args === 'string' && args.trim() === '')) return {};
  if (typeof args !== 'string') return bad(path, 'not a string');
  let input: unknown;
  try {
    input = JSON.parse(args);
  } catch {
    return bad(path, 'not valid JSON');
  }
  return isObj(input) ? input : bad(path, 'not a JSON object');
}

function absent(v: unknown): boolean {
  return v === undefined || v === null;
}

function toolUse(path: string, call: unknown): Obj {
  if (!isObj(call) || !isObj(call.function)) return bad(path, 'not a function call');
  const fn = call.function;
  if (typeof fn.name !== 'string' || fn.name === '') return bad(`${path}.function.name`, 'missing');
  return {
    type: 'tool_use',
    id: toolUseId(call.id),
    name: fn.name,
    input: toolInput(`${path}.function.arguments`, fn.arguments),
  };
}

function textBlock(text: string): Obj {
  return { type: 'text', text, citations: null };
}

/** `message.content` is a string in every server seen; an array of text parts is accepted too. */
function pushText(path: string, v: unknown, content: Obj[]): void {
  if (typeof v === 'string') {
    if (v !== '') content.push(textBlock(v));
    return;
  }
  if (absent(v)) return;
  if (!Array.isArray(v)) bad(path, 'neither a string nor a list of parts');
  for (let i = 0; i < v.length; i++) {
    const part = v[i];
    if (!isObj(part) || part.type !== 'text' || typeof part.text !== 'string') {
      bad(`${path}.${i}`, 'not a text part');
    }
    if (part.text !== '') content.push(textBlock(part.text));
  }
}

/** A stop string the server says it matched: vLLM's `stop_reason`, SGLang's `matched_stop` (ints are tokens). */
function matchedStop(choice: Obj): string | null {
  for (const v of [choice.stop_reason, choice.matched_stop]) {
    if (typeof v === 'string' && v !== '') return v;
  }
  return null;
}

function stopReason(choice: Obj, toolUse: boolean, refused: boolean): [string, string | null] {
  if (refused) return ['refusal', null];
  switch (choice.finish_reason) {
    case 'length':
      return ['max_tokens', null];
    case 'content_filter':
      return ['refusal', null];
    case 'stop': {
      if (toolUse) return ['tool_use', null];
      const seq = matchedStop(choice);
      return seq === null ? ['end_turn', null] : ['stop_sequence', seq];
    }
    default:
      // `tool_calls`, `function_call`, or anything else: tool_use exactly when there are tool calls to run.
      return [toolUse ? 'tool_use' : 'end_turn', null];
  }
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}

/** OpenAI's `prompt_tokens` includes the cached ones; Anthropic's `input_tokens` does not. */
function usageOf(u: unknown): Usage {
  if (!isObj(u)) {
    return { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
  }
  const prompt = count(u.prompt_tokens);
  const details = u.prompt_tokens_details;
  const cached = Math.min(prompt, isObj(details) ? count(details.cached_tokens) : 0);
  return {
    input_tokens: prompt - cached,
    output_tokens: count(u.completion_tokens),
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
  };
}

function translate(completion: unknown, requestedModel: string): { message: Obj; usage: Usage } {
  if (!isObj(completion)) return bad('body', 'not a JSON object');
  const choices = completion.choices;
  if (!Array.isArray(choices) || choices.length === 0) {
    const err = completion.error;
    const said =
      isObj(err) && typeof err.message === 'string' ? ` (error: ${err.message.slice(0, 500)})` : '';
    return bad('choices', `missing or empty${said}`);
  }
  const choice = choices[0];
  if (!isObj(choice) || !isObj(choice.message)) return bad('choices.0.message', 'missing');
  const msg = choice.message;

  const content: Obj[] = [];
  pushText('choices.0.message.content', msg.content, content);
  const refused = typeof msg.refusal === 'string' && msg.refusal !== '';
  if (refused) content.push(textBlock(msg.refusal as string));
  let calls = 0;
  if (Array.isArray(msg.tool_calls)) {
    for (let i = 0; i < msg.tool_calls.length; i++) {
      content.push(toolUse(`choices.0.message.tool_calls.${i}`, msg.tool_calls[i]));
      calls++;
    }
  } else if (isObj(msg.function_call)) {
    // The pre-tools shape, still sent by some older servers.
    content.push(toolUse('choices.0.message.function_call', { function: msg.function_call }));
    calls++;
  }

  const [reason, sequence] = stopReason(choice, calls > 0, refused);
  const usage = usageOf(completion.usage);
  const message: Obj = {
    id: messageId(completion.id),
    type: 'message',
    role: 'assistant',
    model: requestedModel,
    content,
    stop_reason: reason,
    stop_sequence: sequence,
    usage: {
      ...usage,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      server_tool_use: null,
      service_tier: 'batch',
      inference_geo: null,
    },
    container: null,
    stop_details: null,
  };
  return { message, usage };
}

/**
 * Translates a parsed chat completion into a full Message reporting `requestedModel`, with its usage for the
 * limiter; or says what made the completion unusable.
 */
export function toAnthropicMessage(completion: unknown, requestedModel: string): MessageTranslation {
  try {
    const { message, usage } = translate(completion, requestedModel);
    return { ok: true, message, usage };
  } catch (err) {
    if (err instanceof Unusable) return { ok: false, message: err.message };
    return { ok: false, message: 'body: could not be read as a chat completion' };
  }
}
