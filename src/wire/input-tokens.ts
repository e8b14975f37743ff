// A consistent, cheap estimate of prompt size: about four characters per token for text, fixed costs for media
// (roughly what the hosted API bills for a mid-size image or a short PDF) and a small overhead per turn.
import { isJsonObject as isObj, type JsonObject } from './json-object.ts';

type Obj = JsonObject;

const IMAGE_TOKENS = 1600;
const PDF_TOKENS = 1500;
const TURN_TOKENS = 3;

function len(v: unknown): number {
  return typeof v === 'string' ? v.length : 0;
}

/** Characters of text and fixed token costs, summed over a request. */
class Tally {
  chars = 0;
  fixed = 0;

  content(content: unknown): void {
    if (typeof content === 'string') this.chars += content.length;
    else if (Array.isArray(content)) for (const b of content) if (isObj(b)) this.block(b);
  }

  block(b: Obj): void {
    switch (b.type) {
      case 'text':
        this.chars += len(b.text);
        return;
      case 'image':
        this.fixed += IMAGE_TOKENS;
        return;
      case 'document':
        this.document(b);
        return;
      case 'tool_use':
      case 'server_tool_use':
        this.chars += len(b.name) + (b.input === undefined ? 0 : JSON.stringify(b.input).length);
        return;
      case 'tool_result':
        this.content(b.content);
        return;
      case 'thinking':
        this.chars += len(b.thinking);
        return;
      case 'redacted_thinking':
        this.chars += len(b.data);
        return;
      case 'search_result':
        this.chars += len(b.title) + len(b.source);
        this.content(b.content);
        return;
      default:
        this.chars += JSON.stringify(b).length;
    }
  }

  document(b: Obj): void {
    this.chars += len(b.title) + len(b.context);
    const s = isObj(b.source) ? b.source : {};
    if (s.type === 'text') this.chars += len(s.data);
    else if (s.type === 'content') this.content(s.content);
    else this.fixed += PDF_TOKENS;
  }
}

/** Estimated `usage.input_tokens` for a request: the same params always give the same count. */
export function estimateInputTokens(params: Obj): number {
  const t = new Tally();
  t.content(params.system);
  if (Array.isArray(params.messages)) {
    for (const m of params.messages) {
      if (!isObj(m)) continue;
      t.fixed += TURN_TOKENS;
      t.content(m.content);
    }
  }
  if (Array.isArray(params.tools) && params.tools.length > 0) t.chars += JSON.stringify(params.tools).length;
  return Math.max(1, Math.ceil(t.chars / 4) + t.fixed);
}
