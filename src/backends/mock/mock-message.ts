import { idFromSeed } from '../../domain/ids.ts';
import { estimateInputTokens } from '../../wire/input-tokens.ts';
import { isJsonObject as isObj } from '../../wire/json-object.ts';
import { fillerText } from './filler-text.ts';
import { Prng } from './prng.ts';
import { type CustomTool, type PromptView, readPrompt } from './prompt-view.ts';
import { schemaInstance } from './schema-instance.ts';
import { type MockSeed, seedFromText } from './seed.ts';
import { countTokens, cutAtTokens } from './text-tokens.ts';

type Block = Record<string, unknown>;

const ECHO_CHARS = 240;
const SYSTEM_WORDS = 8;
const DEFAULT_MAX_TOKENS = 4096;

/** The first `max` characters of `text` on one line, cut at a word boundary, with `…` when shortened. */
function snippet(text: string, max: number): string {
  const head = text
    .slice(0, max + 1)
    .replace(/\s+/g, ' ')
    .trim();
  if (text.length <= max) return head;
  const cut = head.slice(0, max);
  const space = cut.lastIndexOf(' ');
  return `${space > max / 2 ? cut.slice(0, space) : cut}…`;
}

function firstWords(text: string, n: number): string {
  const words = text.slice(0, 400).trim().split(/\s+/);
  return words.length > n ? `${words.slice(0, n).join(' ')}…` : words.join(' ');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Whether `name` occurs in `text` as a whole identifier (not inside a longer one). */
function mentions(text: string, name: string): boolean {
  const ident = /[A-Za-z0-9_-]/;
  for (let i = text.indexOf(name); i >= 0; i = text.indexOf(name, i + 1)) {
    const before = i > 0 ? text.charAt(i - 1) : '';
    const after = text.charAt(i + name.length);
    if (!ident.test(before) && !ident.test(after)) return true;
  }
  return false;
}

/** The client tool the mock calls, if any: forced by `any`/`tool`, or under `auto` when the user names it. */
function chooseTool(view: PromptView, rng: Prng): CustomTool | null {
  const { tools, choice } = view;
  if (tools.length === 0 || choice.type === 'none') return null;
  if (choice.type === 'tool') return tools.find((t) => t.name === choice.name) ?? null;
  const named = view.lastUserText ? tools.find((t) => mentions(view.lastUserText, t.name)) : undefined;
  if (named) return named;
  return choice.type === 'any' ? rng.pick(tools) : null;
}

/** The would-be answer before stop sequences and `max_tokens` apply. */
function composeText(view: PromptView, rng: Prng): string {
  const parts: string[] = [];
  if (view.lastUserText.trim()) parts.push(`You said: "${snippet(view.lastUserText, ECHO_CHARS)}".`);
  if (view.systemText.trim()) parts.push(`[system: ${firstWords(view.systemText, SYSTEM_WORDS)}]`);
  const seen: string[] = [];
  if (view.images) seen.push(plural(view.images, 'image'));
  if (view.documents) seen.push(plural(view.documents, 'document'));
  if (seen.length) parts.push(`I see ${seen.join(' and ')}.`);
  if (view.toolResults) {
    parts.push(`Thanks for the ${view.toolResults === 1 ? 'tool result' : 'tool results'}.`);
  }
  parts.push(fillerText(rng, 20 + rng.int(61)));
  return parts.join(' ');
}

function signature(rng: Prng): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let out = 'Eq';
  for (let i = 0; i < 62; i++) out += alphabet.charAt(rng.int(64));
  return `${out}==`;
}

function stopSequences(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string' && s.length > 0) : [];
}

/**
 * The mock model's answer to `params`: a full Message, a pure function of `seed` (by default a hash of the
 * compact JSON of `params`, which equals the SDKs' request bytes) and `params`.
 */
export function mockMessage(params: Record<string, unknown>, seed?: MockSeed): Record<string, unknown> {
  const rng = new Prng(seed ?? seedFromText(JSON.stringify(params)));
  const id = idFromSeed('msg', rng.bits128());
  const view = readPrompt(params);
  const maxTokens =
    typeof params.max_tokens === 'number' && params.max_tokens >= 1
      ? Math.floor(params.max_tokens)
      : DEFAULT_MAX_TOKENS;
  const content: Block[] = [];
  let used = 0;
  let stopReason = 'end_turn';
  let stopSequence: string | null = null;

  const thinking = isObj(params.thinking) ? params.thinking : null;
  if (thinking && (thinking.type === 'enabled' || thinking.type === 'adaptive')) {
    const budget = typeof thinking.budget_tokens === 'number' ? thinking.budget_tokens : maxTokens;
    const topic = view.lastUserText.trim() ? `"${snippet(view.lastUserText, 60)}"` : 'the request';
    const raw = `The user asks about ${topic}. ${fillerText(rng, 10 + rng.int(21))}`;
    const t = cutAtTokens(raw, Math.min(budget, maxTokens));
    used += t.tokens;
    const shown = thinking.display === 'omitted' ? '' : t.text;
    content.push({ type: 'thinking', thinking: shown, signature: signature(rng) });
    if (t.tokens >= maxTokens) stopReason = 'max_tokens';
  }

  let toolDone = false;
  const tool = stopReason === 'max_tokens' ? null : chooseTool(view, rng);
  if (tool) {
    const input = schemaInstance(tool.inputSchema, rng);
    const inputTokens = countTokens(JSON.stringify(input));
    if (used + inputTokens <= maxTokens) {
      const preamble = `I'll use the ${tool.name} tool.`;
      const preTokens = countTokens(preamble);
      if (used + preTokens + inputTokens <= maxTokens) {
        content.push({ type: 'text', text: preamble, citations: null });
        used += preTokens;
      }
      content.push({ type: 'tool_use', id: idFromSeed('toolu', rng.bits128()), name: tool.name, input });
      used += inputTokens;
      stopReason = 'tool_use';
      toolDone = true;
    }
  }

  if (!toolDone && stopReason !== 'max_tokens') {
    let text = composeText(view, rng);
    let stopAt = -1;
    for (const s of stopSequences(params.stop_sequences)) {
      const i = text.indexOf(s);
      if (i >= 0 && (stopAt < 0 || i < stopAt)) [stopAt, stopSequence] = [i, s];
    }
    if (stopAt >= 0) text = text.slice(0, stopAt);
    const t = cutAtTokens(text, maxTokens - used);
    used += t.tokens;
    if (t.cut) {
      stopReason = 'max_tokens';
      stopSequence = null;
    } else if (stopSequence !== null) {
      stopReason = 'stop_sequence';
    }
    if (t.text) content.push({ type: 'text', text: t.text, citations: null });
  }

  return {
    id,
    type: 'message',
    role: 'assistant',
    model: typeof params.model === 'string' ? params.model : 'mock',
    content,
    stop_reason: stopReason,
    stop_sequence: stopSequence,
    usage: {
      input_tokens: estimateInputTokens(params),
      output_tokens: used,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      server_tool_use: null,
      service_tier: 'batch',
      inference_geo: null,
    },
    container: null,
    stop_details: null,
  };
}
