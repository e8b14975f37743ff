// An incremental parser for Server-Sent Events (the WHATWG "event stream" format) fed with raw body chunks.
// Chunks may split anywhere: inside a UTF-8 sequence, inside a line, or between the CR and LF of a CRLF.
// `eventsource-parser` does the same, but this is all the backend needs and keeps the stream path dependency-free.

/** One dispatched event: its `event:` name ('message' when the stream gave none) and its joined `data:` lines. */
export interface SseEvent {
  event: string;
  data: string;
}

/** Thrown when one pending line or event grows past the parser's bound. */
export class SseTooLargeError extends Error {
  constructor(limit: number) {
    super(`server-sent event larger than ${limit} characters`);
    this.name = 'SseTooLargeError';
  }
}

const LF = 10;
const CR = 13;

/** Default bound on one event's size; a Message's largest single delta is far below it. */
export const DEFAULT_MAX_EVENT_CHARS = 16 * 1024 * 1024;

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly maxEventChars: number;
  /** Text of the line not yet terminated. */
  private pending = '';
  /** The previous chunk ended in CR, so an LF opening the next one belongs to that line ending. */
  private afterCr = false;
  private eventName = '';
  private data: string[] = [];
  private dataChars = 0;

  constructor(maxEventChars = DEFAULT_MAX_EVENT_CHARS) {
    this.maxEventChars = maxEventChars;
  }

  /** Feeds one chunk; returns the events it completed, in order. */
  push(chunk: Uint8Array): SseEvent[] {
    const out: SseEvent[] = [];
    this.feed(this.decoder.decode(chunk, { stream: true }), out);
    return out;
  }

  /**
   * Ends the stream. The final line counts as terminated and a pending event is dispatched even without its blank
   * line (more lenient than the spec): a server that omits the last blank line must not lose `message_stop`.
   */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    this.feed(this.decoder.decode(), out);
    if (this.pending !== '') {
      const line = this.pending;
      this.pending = '';
      this.line(line, out);
    }
    this.dispatch(out);
    return out;
  }

  private feed(text: string, out: SseEvent[]): void {
    let start = 0;
    if (this.afterCr && text.length > 0) {
      this.afterCr = false;
      if (text.charCodeAt(0) === LF) start = 1;
    }
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== LF && c !== CR) continue;
      const piece = text.slice(start, i);
      const line = this.pending === '' ? piece : this.pending + piece;
      this.pending = '';
      this.line(line, out);
      if (c === CR) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === LF) i++;
        } else {
          this.afterCr = true;
        }
      }
      start = i + 1;
    }
    if (start < text.length) {
      this.pending += text.slice(start);
      if (this.pending.length + this.dataChars > this.maxEventChars)
        throw new SseTooLargeError(this.maxEventChars);
    }
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      this.dispatch(out);
      return;
    }
    const colon = line.indexOf(':');
    if (colon === 0) return; // a comment, e.g. a keep-alive
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    if (field === 'data') {
      this.data.push(value);
      this.dataChars += value.length + 1;
      if (this.dataChars > this.maxEventChars) throw new SseTooLargeError(this.maxEventChars);
    } else if (field === 'event') {
      this.eventName = value;
    }
    // `id`, `retry` and unknown fields mean nothing to a one-shot Messages stream.
  }

  private dispatch(out: SseEvent[]): void {
    // Per the spec an event without data lines is dropped, and its name is forgotten with it.
    if (this.data.length > 0) {
      out.push({ event: this.eventName || 'message', data: this.data.join('\n') });
    }
    this.eventName = '';
    this.data = [];
    this.dataChars = 0;
  }
}
