// A Message rendered as the hosted Messages API streams it (server-sent events), for `stream: true` requests.
import { isJsonObject as isObj, type JsonObject } from '../wire/json-object.ts';

type Obj = JsonObject;

const TEXT_PIECES = 4;
const JSON_PIECES = 3;

function sse(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** `text` in up to `n` pieces, cut at spaces (never inside a surrogate pair). */
function textPieces(text: string, n: number): string[] {
  const size = Math.ceil(text.length / n);
  if (text.length < 16) return text ? [text] : [];
  const out: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(' ', start + size);
    if (end < 0 || out.length === n - 1) end = text.length;
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}

/** JSON text in up to `n` pieces cut anywhere (as the hosted API does), except inside a surrogate pair. */
function jsonPieces(json: string, n: number): string[] {
  const out: string[] = [];
  const size = Math.max(1, Math.ceil(json.length / n));
  let start = 0;
  while (start < json.length) {
    let end = Math.min(json.length, start + size);
    const c = json.charCodeAt(end - 1);
    if (end < json.length && c >= 0xd800 && c <= 0xdbff) end++;
    out.push(json.slice(start, end));
    start = end;
  }
  return out;
}

/** The start of a content block and the deltas that complete it. */
function blockEvents(block: Obj): { start: Obj; deltas: Obj[] } {
  switch (block.type) {
    case 'text':
      return {
        start: { ...block, text: '' },
        deltas: textPieces(String(block.text), TEXT_PIECES).map((text) => ({ type: 'text_delta', text })),
      };
    case 'thinking':
      return {
        start: { ...block, thinking: '', signature: '' },
        deltas: [
          ...textPieces(String(block.thinking), TEXT_PIECES).map((thinking) => ({
            type: 'thinking_delta',
            thinking,
          })),
          { type: 'signature_delta', signature: block.signature },
        ],
      };
    case 'tool_use':
      return {
        start: { ...block, input: {} },
        deltas: jsonPieces(JSON.stringify(block.input), JSON_PIECES).map((partial_json) => ({
          type: 'input_json_delta',
          partial_json,
        })),
      };
    default:
      return { start: block, deltas: [] };
  }
}

/** A Message as the hosted API streams it: message_start, the blocks in pieces, message_delta, message_stop. */
export function messageEventStream(message: Obj): string {
  const usage = isObj(message.usage) ? message.usage : {};
  const content = Array.isArray(message.content) ? message.content.filter(isObj) : [];
  let out = sse('message_start', {
    type: 'message_start',
    message: {
      ...message,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      stop_details: null,
      usage: { ...usage, output_tokens: 1 },
    },
  });
  if (content.length === 0) out += sse('ping', { type: 'ping' });
  content.forEach((block, index) => {
    const { start, deltas } = blockEvents(block);
    out += sse('content_block_start', { type: 'content_block_start', index, content_block: start });
    if (index === 0) out += sse('ping', { type: 'ping' });
    for (const delta of deltas)
      out += sse('content_block_delta', { type: 'content_block_delta', index, delta });
    out += sse('content_block_stop', { type: 'content_block_stop', index });
  });
  out += sse('message_delta', {
    type: 'message_delta',
    delta: {
      stop_reason: message.stop_reason,
      stop_sequence: message.stop_sequence ?? null,
      stop_details: message.stop_details ?? null,
    },
    usage: {
      input_tokens: usage.input_tokens,
      cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
      cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
      output_tokens: usage.output_tokens,
    },
  });
  return out + sse('message_stop', { type: 'message_stop' });
}
