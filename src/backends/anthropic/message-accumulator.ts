// Rebuilds the final Message from a streamed Messages API answer, as the SDK's `finalMessage()` does, so a streamed
// call yields the same result line as a non-streamed one.

import type { SseEvent } from './sse-events.ts';

type Obj = Record<string, unknown>;

/** Thrown for a stream that is not a well-formed Messages stream (bad JSON, deltas before `message_start`). */
export class StreamProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamProtocolError';
  }
}

/** What the stream amounted to. `incomplete` means it ended before `message_stop` (e.g. a dropped connection). */
export type AccumulatedResult =
  | { type: 'message'; message: Obj }
  | { type: 'error'; error: { type: string; message: string } }
  | { type: 'incomplete' };

/** Bound on an upstream error message carried into a result line. */
export const MAX_ERROR_MESSAGE_CHARS = 1000;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `{type, message}` of an error envelope (`{type:'error', error:{type, message}}`), bounded; undefined if absent. */
export function envelopeError(body: unknown): { type: string; message: string } | undefined {
  const error = isObj(body) ? body.error : undefined;
  if (!isObj(error) || typeof error.type !== 'string') return undefined;
  const message = typeof error.message === 'string' ? error.message : '';
  return {
    type: error.type.slice(0, 100),
    message:
      message.length > MAX_ERROR_MESSAGE_CHARS ? `${message.slice(0, MAX_ERROR_MESSAGE_CHARS)}…` : message,
  };
}

export class MessageAccumulator {
  private message: Obj | undefined;
  private content: Obj[] = [];
  /** `input_json_delta` pieces per block index, parsed into `input` at `content_block_stop`. */
  private readonly json = new Map<number, string[]>();
  private stopped = false;
  private error: { type: string; message: string } | undefined;

  /** True once the stream has said all it will: `message_stop` or an `error` event. */
  get done(): boolean {
    return this.stopped || this.error !== undefined;
  }

  /** Applies one event. Throws StreamProtocolError on malformed data; records an `error` event. */
  push(event: SseEvent): void {
    if (this.done || event.data === '') return;
    let data: unknown;
    try {
      data = JSON.parse(event.data);
    } catch {
      throw new StreamProtocolError(`invalid JSON in a "${event.event.slice(0, 40)}" event`);
    }
    if (!isObj(data)) throw new StreamProtocolError('stream event data is not an object');
    // The JSON `type` is authoritative; the SSE name covers servers that send only `event:` lines with bare data.
    const type = typeof data.type === 'string' ? data.type : event.event;
    if (type === 'error' || event.event === 'error') {
      this.error = envelopeError(data) ?? { type: 'api_error', message: 'upstream stream error' };
      return;
    }
    if (type === 'message_start') {
      if (this.message !== undefined) throw new StreamProtocolError('a second message_start');
      if (!isObj(data.message)) throw new StreamProtocolError('message_start without a message');
      this.message = { ...data.message };
      this.content = Array.isArray(data.message.content) ? [...(data.message.content as Obj[])] : [];
      return;
    }
    if (type === 'ping') return;
    if (this.message === undefined) {
      // Unknown events may come first (forward compatibility); known Message events may not.
      if (KNOWN.has(type)) throw new StreamProtocolError(`${type} before message_start`);
      return;
    }
    switch (type) {
      case 'content_block_start':
        this.blockStart(data);
        break;
      case 'content_block_delta':
        this.blockDelta(data);
        break;
      case 'content_block_stop':
        this.blockStop(data);
        break;
      case 'message_delta':
        this.messageDelta(this.message, data);
        break;
      case 'message_stop':
        this.stopped = true;
        break;
      // Unknown event types are ignored.
    }
  }

  result(): AccumulatedResult {
    if (this.error !== undefined) return { type: 'error', error: this.error };
    if (!this.stopped || this.message === undefined) return { type: 'incomplete' };
    for (const index of this.json.keys()) this.finishInput(index);
    return { type: 'message', message: { ...this.message, content: this.content } };
  }

  private blockStart(data: Obj): void {
    if (!isObj(data.content_block))
      throw new StreamProtocolError('content_block_start without a content_block');
    const index = indexOf(data, this.content.length);
    // Blocks start in order; a gap would leave a hole that serialises as null.
    if (index > this.content.length)
      throw new StreamProtocolError(`content block ${index} started out of order`);
    this.content[index] = { ...data.content_block };
  }

  private blockDelta(data: Obj): void {
    const index = indexOf(data, -1);
    const block = this.content[index];
    const delta = data.delta;
    if (block === undefined || !isObj(delta)) {
      throw new StreamProtocolError(`content_block_delta for block ${index}, which did not start`);
    }
    switch (delta.type) {
      case 'text_delta':
        if (typeof delta.text === 'string' && typeof block.text === 'string') block.text += delta.text;
        break;
      case 'thinking_delta':
        if (typeof delta.thinking === 'string' && typeof block.thinking === 'string') {
          block.thinking += delta.thinking;
        }
        break;
      case 'signature_delta':
        if (typeof delta.signature === 'string') block.signature = delta.signature;
        break;
      case 'citations_delta':
        if (delta.citation !== undefined) {
          block.citations = [...(Array.isArray(block.citations) ? block.citations : []), delta.citation];
        }
        break;
      case 'input_json_delta':
        // tool_use, server_tool_use, mcp_tool_use...: any block that carries an `input`.
        if (typeof delta.partial_json === 'string' && 'input' in block) {
          const pieces = this.json.get(index);
          if (pieces === undefined) this.json.set(index, [delta.partial_json]);
          else pieces.push(delta.partial_json);
        }
        break;
      // Unknown delta types are ignored.
    }
  }

  private blockStop(data: Obj): void {
    this.finishInput(indexOf(data, -1));
  }

  /** Parses the collected input JSON into the block. A cut-off input (max_tokens mid-call) keeps the start's. */
  private finishInput(index: number): void {
    const pieces = this.json.get(index);
    if (pieces === undefined) return;
    this.json.delete(index);
    const block = this.content[index];
    const text = pieces.join('');
    if (block === undefined || text.trim() === '') return;
    try {
      block.input = JSON.parse(text);
    } catch {
      // Leave `input` as content_block_start gave it ({}): the Message must stay well formed.
    }
  }

  private messageDelta(message: Obj, data: Obj): void {
    if (isObj(data.delta)) {
      for (const [key, value] of Object.entries(data.delta)) {
        // stop_* always land (null included); other fields (container, context_management...) only when set.
        if (key.startsWith('stop_') || value !== null) message[key] = value;
      }
    }
    if (isObj(data.usage)) {
      // Counters in message_delta are cumulative totals: overwrite, never add; absent or null ones keep their value.
      const usage = isObj(message.usage) ? { ...message.usage } : {};
      for (const [key, value] of Object.entries(data.usage)) if (value !== null) usage[key] = value;
      message.usage = usage;
    }
  }
}

const KNOWN = new Set([
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
]);

function indexOf(data: Obj, fallback: number): number {
  const i = data.index;
  if (i === undefined && fallback >= 0) return fallback;
  if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i > 100_000) {
    throw new StreamProtocolError('content block event with a bad index');
  }
  return i;
}
