// Validation of one batch request's `params` (a Messages API create body). Hand-written rather than a schema
// library: it runs once per request (up to 100k per batch) and its messages mimic the hosted API's pydantic
// style `<json.path>: <reason>`. Only the first problem is reported. Common shapes are checked strictly; exotic
// and newer block types, server tools and pass-through options are only checked loosely, so a valid request is
// never refused because Barge is behind the Messages API. Unknown keys inside blocks are tolerated for the same
// reason; unknown top-level keys are not.
import { isJsonObject as isObj, type JsonObject } from './json-object.ts';

type Obj = JsonObject;
type Problem = string | null;

/** The API version that removed the sampling parameters and added `role: "system"` messages. */
const V2026 = '2026-10-21';

/** Block types a user or assistant turn may carry (the last group only with a beta, so checked loosely). */
const MESSAGE_BLOCK_TYPES = [
  'text',
  'image',
  'document',
  'search_result',
  'thinking',
  'redacted_thinking',
  'tool_use',
  'tool_result',
  'server_tool_use',
  'web_search_tool_result',
  'web_fetch_tool_result',
  'code_execution_tool_result',
  'bash_code_execution_tool_result',
  'text_editor_code_execution_tool_result',
  'tool_search_tool_result',
  'container_upload',
  'advisor_tool_result',
  'mcp_tool_use',
  'mcp_tool_result',
  'compaction',
  'tool_addition',
  'tool_removal',
  'mcp_tool_listing',
  'fallback',
] as const;
const TOOL_RESULT_BLOCK_TYPES = [
  'text',
  'image',
  'search_result',
  'document',
  'tool_reference',
  'browser_state',
];
const DOCUMENT_CONTENT_BLOCK_TYPES = ['text', 'image'];
const TEXT_ONLY = ['text'];
const IMAGE_MEDIA_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;
const TOOL_USE_ID = /^[a-zA-Z0-9_-]+$/;
const DATE_VERSION = /^\d{4}-\d{2}-\d{2}$/;

/** Top-level options accepted without deep checks (the Messages API validates them itself). */
const PASS_THROUGH_KEYS = new Set([
  'cache_control',
  'container',
  'context_management',
  'output_config',
  'service_tier',
  'inference_geo',
  'diagnostics',
  'user_profile_id',
  'workspace_id',
  'mcp_servers',
  // beta-only options, forwarded to an upstream that knows them
  'billing_policy',
  'compaction',
  'fallback_credit_token',
  'fallbacks',
  'output_format',
]);

/** Top-level keys the validator handles one by one below. */
const CHECKED_KEYS = new Set([
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
  'speed',
]);

/** Messages API features the batch guide lists as unsupported in batches ("returns a validation error"). */
const NOT_IN_BATCHES = new Set([
  'speed',
  'store',
  'previous_thread_event_id',
  'thread',
  'cache_hint',
  'context_hint',
  'research_preview_2026_02',
]);

/** Optional fields accept `null` as "absent", like the SDKs' `?: T | null` types. */
function absent(v: unknown): boolean {
  return v === undefined || v === null;
}

function quoteList(values: readonly string[]): string {
  const q = values.map((v) => `'${v}'`);
  return q.length <= 1 ? (q[0] ?? '') : `${q.slice(0, -1).join(', ')} or ${q.at(-1)}`;
}

function literal(path: string, v: unknown, allowed: readonly string[]): Problem {
  if (typeof v === 'string' && allowed.includes(v)) return null;
  return `${path}: Input should be ${quoteList(allowed)}`;
}

function str(path: string, v: unknown): Problem {
  return typeof v === 'string'
    ? null
    : v === undefined
      ? `${path}: Field required`
      : `${path}: Input should be a valid string`;
}

function optStr(path: string, v: unknown): Problem {
  return absent(v) ? null : str(path, v);
}

function bool(path: string, v: unknown): Problem {
  return typeof v === 'boolean' ? null : `${path}: Input should be a valid boolean`;
}

function int(path: string, v: unknown, min: number): Problem {
  if (v === undefined) return `${path}: Field required`;
  if (typeof v !== 'number' || !Number.isFinite(v)) return `${path}: Input should be a valid integer`;
  if (!Number.isInteger(v)) {
    return `${path}: Input should be a valid integer, got a number with a fractional part`;
  }
  return v < min ? `${path}: Input should be greater than or equal to ${min}` : null;
}

function num(path: string, v: unknown, min: number, max: number): Problem {
  if (typeof v !== 'number' || !Number.isFinite(v)) return `${path}: Input should be a valid number`;
  if (v < min) return `${path}: Input should be greater than or equal to ${min}`;
  return v > max ? `${path}: Input should be less than or equal to ${max}` : null;
}

function dict(path: string, v: unknown): Problem {
  return isObj(v)
    ? null
    : v === undefined
      ? `${path}: Field required`
      : `${path}: Input should be a valid dictionary`;
}

function list(path: string, v: unknown): Problem {
  return Array.isArray(v)
    ? null
    : v === undefined
      ? `${path}: Field required`
      : `${path}: Input should be a valid list`;
}

function cacheControl(path: string, v: unknown): Problem {
  if (absent(v)) return null;
  if (!isObj(v)) return `${path}: Input should be a valid dictionary`;
  const p = literal(`${path}.type`, v.type, ['ephemeral']);
  if (p) return p;
  return absent(v.ttl) ? null : literal(`${path}.ttl`, v.ttl, ['5m', '1h']);
}

/** The discriminator of a content block, or the problem with it. */
function tag(path: string, v: unknown, allowed: readonly string[]): Problem {
  if (!isObj(v)) return `${path}: Input should be a valid dictionary`;
  const t = v.type;
  if (t === undefined) return `${path}: Unable to extract tag using discriminator 'type'`;
  if (typeof t !== 'string') return `${path}.type: Input should be a valid string`;
  if (!allowed.includes(t)) {
    return `${path}.type: Input tag '${t}' found using 'type' does not match any of the expected tags: ${allowed.map((a) => `'${a}'`).join(', ')}`;
  }
  return null;
}

/** What a block's position allows; one context per kind of container. */
interface BlockContext {
  role: 'user' | 'assistant' | 'system' | 'nested';
  v2026: boolean;
}

function textBlock(path: string, b: Obj, ctx: BlockContext): Problem {
  const p = str(`${path}.text`, b.text);
  if (p) return p;
  if (b.text === '') return `${path}.text: text content blocks must be non-empty`;
  if (!absent(b.citations)) {
    if (!Array.isArray(b.citations)) return `${path}.citations: Input should be a valid list`;
    if (ctx.v2026 && ctx.role === 'user' && b.citations.length > 0) {
      return `${path}.citations: citations are not allowed on text blocks in user messages`;
    }
  }
  return cacheControl(`${path}.cache_control`, b.cache_control);
}

function imageBlock(path: string, b: Obj): Problem {
  const sp = `${path}.source`;
  const src = b.source;
  const p = tag(sp, src, ['base64', 'url', 'file']);
  if (p) return p;
  const s = src as Obj;
  const q =
    s.type === 'base64'
      ? (literal(`${sp}.media_type`, s.media_type, IMAGE_MEDIA_TYPES) ?? str(`${sp}.data`, s.data))
      : s.type === 'url'
        ? str(`${sp}.url`, s.url)
        : str(`${sp}.file_id`, s.file_id);
  return q ?? cacheControl(`${path}.cache_control`, b.cache_control);
}

function documentBlock(path: string, b: Obj, ctx: BlockContext): Problem {
  if (ctx.v2026 && ctx.role === 'assistant') {
    return `${path}: document blocks are not allowed in assistant messages`;
  }
  const sp = `${path}.source`;
  const src = b.source;
  const p = tag(sp, src, ['base64', 'text', 'content', 'url', 'file']);
  if (p) return p;
  const s = src as Obj;
  let q: Problem = null;
  switch (s.type) {
    case 'base64':
      q = literal(`${sp}.media_type`, s.media_type, ['application/pdf']) ?? str(`${sp}.data`, s.data);
      break;
    case 'text':
      q = literal(`${sp}.media_type`, s.media_type, ['text/plain']) ?? str(`${sp}.data`, s.data);
      break;
    case 'url':
      q = str(`${sp}.url`, s.url);
      break;
    case 'file':
      q = str(`${sp}.file_id`, s.file_id);
      break;
    default:
      if (typeof s.content !== 'string') {
        q =
          list(`${sp}.content`, s.content) ??
          blocks(`${sp}.content`, s.content as unknown[], DOCUMENT_CONTENT_BLOCK_TYPES, nested(ctx));
      }
  }
  if (q) return q;
  if (!absent(b.citations) && !isObj(b.citations)) {
    return `${path}.citations: Input should be a valid dictionary`;
  }
  return (
    optStr(`${path}.title`, b.title) ??
    optStr(`${path}.context`, b.context) ??
    cacheControl(`${path}.cache_control`, b.cache_control)
  );
}

function toolUseBlock(path: string, b: Obj, ctx: BlockContext): Problem {
  if (ctx.role !== 'assistant') return `${path}: tool_use blocks are only allowed in assistant messages`;
  const p = str(`${path}.id`, b.id) ?? str(`${path}.name`, b.name) ?? dict(`${path}.input`, b.input);
  if (p) return p;
  if (!TOOL_USE_ID.test(b.id as string)) return `${path}.id: String should match pattern '^[a-zA-Z0-9_-]+$'`;
  return cacheControl(`${path}.cache_control`, b.cache_control);
}

function toolResultBlock(path: string, b: Obj, ctx: BlockContext): Problem {
  if (ctx.role !== 'user') return `${path}: tool_result blocks are only allowed in user messages`;
  const p = str(`${path}.tool_use_id`, b.tool_use_id);
  if (p) return p;
  if (!absent(b.is_error)) {
    const q = bool(`${path}.is_error`, b.is_error);
    if (q) return q;
  }
  if (!absent(b.content) && typeof b.content !== 'string') {
    const q =
      list(`${path}.content`, b.content) ??
      blocks(`${path}.content`, b.content as unknown[], TOOL_RESULT_BLOCK_TYPES, nested(ctx));
    if (q) return q;
  }
  return cacheControl(`${path}.cache_control`, b.cache_control);
}

function searchResultBlock(path: string, b: Obj, ctx: BlockContext): Problem {
  return (
    str(`${path}.source`, b.source) ??
    str(`${path}.title`, b.title) ??
    list(`${path}.content`, b.content) ??
    blocks(`${path}.content`, b.content as unknown[], TEXT_ONLY, nested(ctx)) ??
    cacheControl(`${path}.cache_control`, b.cache_control)
  );
}

function nested(ctx: BlockContext): BlockContext {
  return { role: 'nested', v2026: ctx.v2026 };
}

/** One content block; exotic types only need their tag to be known. */
function block(path: string, b: Obj, ctx: BlockContext): Problem {
  switch (b.type) {
    case 'text':
      return textBlock(path, b, ctx);
    case 'image':
      return imageBlock(path, b);
    case 'document':
      return documentBlock(path, b, ctx);
    case 'tool_use':
      return toolUseBlock(path, b, ctx);
    case 'tool_result':
      return toolResultBlock(path, b, ctx);
    case 'thinking':
      return str(`${path}.thinking`, b.thinking) ?? str(`${path}.signature`, b.signature);
    case 'redacted_thinking':
      return str(`${path}.data`, b.data);
    case 'search_result':
      return searchResultBlock(path, b, ctx);
    case 'server_tool_use':
      return str(`${path}.id`, b.id) ?? str(`${path}.name`, b.name) ?? dict(`${path}.input`, b.input);
    case 'container_upload':
      return str(`${path}.file_id`, b.file_id);
    case 'tool_reference':
      return str(`${path}.tool_name`, b.tool_name);
    default:
      return null;
  }
}

function blocks(path: string, items: unknown[], allowed: readonly string[], ctx: BlockContext): Problem {
  for (let i = 0; i < items.length; i++) {
    const bp = `${path}.${i}`;
    const p = tag(bp, items[i], allowed) ?? block(bp, items[i] as Obj, ctx);
    if (p) return p;
  }
  return null;
}

function messages(v: unknown, v2026: boolean): Problem {
  const p = list('messages', v);
  if (p) return p;
  const msgs = v as unknown[];
  if (msgs.length === 0) return 'messages: List should have at least 1 item after validation, not 0';
  const roles = v2026 ? ['user', 'assistant', 'system'] : ['user', 'assistant'];
  for (let i = 0; i < msgs.length; i++) {
    const path = `messages.${i}`;
    const m = msgs[i];
    if (!isObj(m)) return `${path}: Input should be a valid dictionary`;
    const role = m.role;
    const q = role === undefined ? `${path}.role: Field required` : literal(`${path}.role`, role, roles);
    if (q) return q;
    const content = m.content;
    if (content === undefined) return `${path}.content: Field required`;
    const lastAssistant = i === msgs.length - 1 && role === 'assistant';
    if (typeof content === 'string') {
      if (content === '' && !lastAssistant) {
        return `${path}: all messages must have non-empty content except for the optional final assistant message`;
      }
      continue;
    }
    if (!Array.isArray(content)) {
      return `${path}.content: Input should be a valid string or a list of content blocks`;
    }
    if (content.length === 0 && !lastAssistant) {
      return `${path}: all messages must have non-empty content except for the optional final assistant message`;
    }
    const ctx: BlockContext = { role: role as BlockContext['role'], v2026 };
    const r = blocks(`${path}.content`, content, role === 'system' ? TEXT_ONLY : MESSAGE_BLOCK_TYPES, ctx);
    if (r) return r;
  }
  return null;
}

function system(v: unknown, v2026: boolean): Problem {
  if (typeof v === 'string') return null;
  if (!Array.isArray(v)) return 'system: Input should be a valid string or a list of text blocks';
  return blocks('system', v, TEXT_ONLY, { role: 'system', v2026 });
}

function metadata(v: unknown): Problem {
  if (!isObj(v)) return 'metadata: Input should be a valid dictionary';
  for (const k of Object.keys(v)) {
    if (k !== 'user_id') return `metadata.${k}: Extra inputs are not permitted`;
  }
  const u = v.user_id;
  if (absent(u)) return null;
  if (typeof u !== 'string') return 'metadata.user_id: Input should be a valid string';
  return u.length > 256 ? 'metadata.user_id: String should have at most 256 characters' : null;
}

function stopSequences(v: unknown): Problem {
  if (!Array.isArray(v)) return 'stop_sequences: Input should be a valid list';
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'string') return `stop_sequences.${i}: Input should be a valid string`;
  }
  return null;
}

function thinking(v: unknown, maxTokens: number): Problem {
  const p = tag('thinking', v, ['enabled', 'disabled', 'adaptive', 'between_tools']);
  if (p) return p;
  const t = v as Obj;
  if (!absent(t.display)) {
    const q = literal('thinking.display', t.display, ['summarized', 'omitted']);
    if (q) return q;
  }
  if (t.type !== 'enabled') return null;
  const q = int('thinking.budget_tokens', t.budget_tokens, 1024);
  if (q) return q;
  return (t.budget_tokens as number) >= maxTokens
    ? 'max_tokens: must be greater than thinking.budget_tokens'
    : null;
}

/** Checks the tool list, collecting the declared names into `names` (for `tool_choice`). */
function tools(v: unknown, names: Set<string>): Problem {
  if (!Array.isArray(v)) return 'tools: Input should be a valid list';
  for (let i = 0; i < v.length; i++) {
    const path = `tools.${i}`;
    const t = v[i];
    if (!isObj(t)) return `${path}: Input should be a valid dictionary`;
    const type = t.type;
    if (!absent(type) && typeof type !== 'string') return `${path}.type: Input should be a valid string`;
    if (absent(type) || type === 'custom') {
      const p = str(`${path}.name`, t.name);
      if (p) return p;
      if (!TOOL_NAME.test(t.name as string)) {
        return `${path}.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`;
      }
      const q =
        dict(`${path}.input_schema`, t.input_schema) ??
        literal(`${path}.input_schema.type`, (t.input_schema as Obj).type, ['object']) ??
        optStr(`${path}.description`, t.description) ??
        cacheControl(`${path}.cache_control`, t.cache_control);
      if (q) return q;
    }
    // Server tools are versioned (`web_search_20250305`, …) and validated by whoever runs them.
    if (typeof t.name === 'string') {
      if (names.has(t.name)) return `tools: Tool names must be unique; '${t.name}' is used more than once`;
      names.add(t.name);
    }
  }
  return null;
}

function toolChoice(v: unknown, names: Set<string>): Problem {
  const p = tag('tool_choice', v, ['auto', 'any', 'tool', 'none']);
  if (p) return p;
  const c = v as Obj;
  if (c.type !== 'none' && !absent(c.disable_parallel_tool_use)) {
    const q = bool('tool_choice.disable_parallel_tool_use', c.disable_parallel_tool_use);
    if (q) return q;
  }
  if (c.type !== 'tool') return null;
  const q = str('tool_choice.name', c.name);
  if (q) return q;
  return names.has(c.name as string)
    ? null
    : `tool_choice.name: no tool named '${c.name}' is defined in tools`;
}

function model(v: unknown): Problem {
  const p = str('model', v);
  if (p) return p;
  const m = v as string;
  if (m.length === 0) return 'model: String should have at least 1 character';
  return m.length > 256 ? 'model: String should have at most 256 characters' : null;
}

function isV2026OrLater(apiVersion: string): boolean {
  return DATE_VERSION.test(apiVersion) && apiVersion >= V2026;
}

function validate(params: unknown, apiVersion: string, passThroughUnknown: boolean): Problem {
  if (!isObj(params)) return 'params: Input should be a valid dictionary';
  const v2026 = isV2026OrLater(apiVersion);
  const p =
    model(params.model) ?? int('max_tokens', params.max_tokens, 1) ?? messages(params.messages, v2026);
  if (p) return p;
  const maxTokens = params.max_tokens as number;
  const names = new Set<string>();

  for (const key of Object.keys(params)) {
    if (CHECKED_KEYS.has(key) || PASS_THROUGH_KEYS.has(key)) continue;
    if (NOT_IN_BATCHES.has(key)) return `${key}: not supported in batch requests`;
    if (!passThroughUnknown) return `${key}: Extra inputs are not permitted`;
  }
  if (v2026) {
    for (const key of ['temperature', 'top_p', 'top_k']) {
      if (key in params) return `${key}: Extra inputs are not permitted`;
    }
  }

  const {
    system: sys,
    metadata: meta,
    stop_sequences: stops,
    temperature,
    top_p,
    top_k,
    thinking: think,
    tools: toolList,
    tool_choice: choice,
    stream,
    speed,
    service_tier,
    cache_control,
    user_profile_id,
  } = params;
  return (
    (absent(sys) ? null : system(sys, v2026)) ??
    (absent(meta) ? null : metadata(meta)) ??
    (absent(stops) ? null : stopSequences(stops)) ??
    (absent(temperature) ? null : num('temperature', temperature, 0, 1)) ??
    (absent(top_p) ? null : num('top_p', top_p, 0, 1)) ??
    (absent(top_k) ? null : int('top_k', top_k, 0)) ??
    (absent(think) ? null : thinking(think, maxTokens)) ??
    (absent(toolList) ? null : tools(toolList, names)) ??
    (absent(choice) ? null : toolChoice(choice, names)) ??
    (absent(stream) || stream === false
      ? null
      : stream === true
        ? 'stream: batch requests do not support streaming; omit stream or set it to false'
        : bool('stream', stream)) ??
    (absent(speed) ? null : 'speed: not supported in batch requests') ??
    (absent(service_tier) ? null : literal('service_tier', service_tier, ['auto', 'standard_only'])) ??
    cacheControl('cache_control', cache_control) ??
    optStr('user_profile_id', user_profile_id)
  );
}

/**
 * Returns null when `params` is a valid Messages API create body for a batch request under `apiVersion`, else a
 * client-facing `<path>: <reason>` message (it becomes an `errored` result with `invalid_request_error`).
 * `passThroughUnknown` lets unknown top-level keys through (new and beta parameters), for backends that forward the
 * params as they came to a server that validates them itself.
 */
export function validateMessageParams(
  params: unknown,
  apiVersion: string,
  opts: { passThroughUnknown?: boolean } = {},
): string | null {
  try {
    return validate(params, apiVersion, opts.passThroughUnknown === true);
  } catch {
    // Unreachable for JSON.parse output; a guard so one odd request can never take a worker down.
    return 'params: Input could not be validated';
  }
}
