import { isUtf8 } from 'node:buffer';

/** One request of a create body: its `custom_id` and the exact bytes of its `params` value. */
export interface ScannedItem {
  index: number;
  customId: string;
  /** The exact bytes of the params value, as received (stored verbatim, never re-serialised). */
  params: Buffer;
  /** `params.model` when it is a string: the routing key, stored beside the item so claims can skip busy lanes. */
  model: string | null;
}

/**
 * The `model` of params parsed from latin1 text (the fast syntax check): ASCII names are exact as they are, and any
 * other name is re-decoded as the UTF-8 it was. Bounded, since it is stored per item.
 */
function modelOf(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const m = (value as { model?: unknown }).model;
  if (typeof m !== 'string' || m.length > 256) return null;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range test is the point
  return /^[\x00-\x7f]*$/.test(m) ? m : Buffer.from(m, 'latin1').toString('utf8');
}

/** Bad input: the message is client-facing (pydantic-style `<json.path>: <reason>` where there is a path). */
export class IngestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IngestError';
  }
}

export interface ScannerLimits {
  /** Most requests in one batch. */
  maxItems: number;
  /** Most bytes of one request (`{"custom_id":…,"params":…}`), so a partial request is never buffered unboundedly. */
  maxItemBytes: number;
  /** Deepest nesting of one value; `{}` is depth 1. */
  maxDepth: number;
}

export const DEFAULT_SCANNER_LIMITS: ScannerLimits = {
  maxItems: 100_000,
  maxItemBytes: 32 * 1024 * 1024,
  maxDepth: 512,
};

// Any top-level key but `requests` is an error, and even fully escaped `requests` is 50 bytes: a longer key can
// be rejected without buffering it.
const MAX_TOP_KEY_BYTES = 1024;
// Key names echoed in error messages are cut to this many characters.
const MAX_KEY_ECHO = 100;
const ID_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

/** Bytes that may appear in a number or a literal (plus any letter, so `tru`/`nulll` reach JSON.parse whole). */
const SCALAR_BYTE = new Uint8Array(256);
/** Bytes that may appear in a custom_id, for the no-decoding fast path. */
const ID_BYTE = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const alnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  SCALAR_BYTE[c] = alnum || c === 0x2b || c === 0x2d || c === 0x2e ? 1 : 0;
  ID_BYTE[c] = alnum || c === 0x2d || c === 0x5f ? 1 : 0;
}

/** Whether a byte can start some JSON value (so a wrong-typed value is a type error, not a syntax error). */
function isValueStart(c: number): boolean {
  return (
    c === LBRACE ||
    c === LBRACKET ||
    c === QUOTE ||
    c === 0x2d ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x74 ||
    c === 0x66 ||
    c === 0x6e
  );
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

// Grammar states outside values: {"requests":[{"custom_id":…,"params":…}, …]}
const TOP_BEFORE = 0; // before the top-level object
const TOP_KEY_OR_END = 1; // just after `{`
const TOP_KEY = 2; // after `,`: a key must follow
const TOP_COLON = 3;
const REQUESTS_VALUE = 4;
const ELEMENT_OR_END = 5; // just after `[`
const ELEMENT = 6; // after `,`: an element must follow
const AFTER_ELEMENT = 7;
const ITEM_KEY_OR_END = 8; // just after an item's `{`
const ITEM_KEY = 9;
const ITEM_COLON = 10;
const ITEM_VALUE = 11;
const AFTER_ITEM_VALUE = 12;
const TOP_AFTER_VALUE = 13;
const TRAILING = 14; // after the top-level object: only whitespace
const KEY_STRING = 15; // inside an object key
const VALUE = 16; // inside a value that is captured whole (custom_id, params, a non-object element)

// What the value being scanned is.
const T_CUSTOM_ID = 0;
const T_PARAMS = 1;
const T_ELEMENT = 2;

const SEEN_CUSTOM_ID = 1;
const SEEN_PARAMS = 2;

const EMPTY = Buffer.alloc(0);
// The usual spellings of the known keys, compared as bytes before falling back to decoding.
const KEY_REQUESTS = Buffer.from('"requests"');
const KEY_CUSTOM_ID = Buffer.from('"custom_id"');
const KEY_PARAMS = Buffer.from('"params"');

/**
 * Streams a `POST /v1/messages/batches` body without holding it or its parsed tree: a byte-level state machine over
 * the outer grammar yields each request with the exact bytes of its `params`, which JSON.parse then validates (the
 * parsed value is discarded). Only the current request is buffered, and only while it spans chunks.
 *
 * Chunks passed to `push` are referenced (not copied) while a request spans them, so they must not be reused.
 */
export class CreateBodyScanner {
  private readonly maxItems: number;
  private readonly maxItemBytes: number;
  private readonly maxDepth: number;

  private state = TOP_BEFORE;
  private seen = 0;
  private failure: IngestError | null = null;
  private ended = false;
  private sawRequests = false;
  /** Requests started so far; the current one has index `started - 1`. */
  private started = 0;
  /** Requests completed so far. */
  private count = 0;
  private readonly ids = new Set<string>();

  // The current chunk and its absolute offset, so offsets can be absolute across chunks.
  private chunk: Buffer = EMPTY;
  private base = 0;

  // Capture: the bytes from `capStart` on are kept (earlier chunks' tails in `capParts`) until released.
  private capturing = false;
  private capIsItem = false;
  private capStart = 0;
  private capParts: Buffer[] = [];

  // The current request.
  private index = 0;
  private seenKeys = 0;
  private customId: string | null = null;
  private params: Buffer | null = null;
  private model: string | null = null;
  private target = T_CUSTOM_ID;

  // The current key string.
  private keyStart = 0;
  private keyEscape = false;
  private keyInItem = false;

  // The current captured value.
  private valueStart = 0;
  private valueScalar = false;
  private valueDepth = 0;
  private valueInString = false;
  private valueEscape = false;
  private readonly stack: Uint8Array;

  constructor(limits: Partial<ScannerLimits> = {}) {
    const l = { ...DEFAULT_SCANNER_LIMITS, ...limits };
    for (const [name, v] of Object.entries(l)) {
      if (!Number.isSafeInteger(v) || v < 1)
        throw new RangeError(`scanner limit ${name} must be a positive integer`);
    }
    this.maxItems = l.maxItems;
    this.maxItemBytes = l.maxItemBytes;
    this.maxDepth = l.maxDepth;
    this.stack = new Uint8Array(l.maxDepth);
  }

  /** Bytes consumed so far. */
  get bytesSeen(): number {
    return this.seen;
  }

  /** Feeds the next chunk; returns the items completed within it (possibly none). Throws IngestError on bad input. */
  push(chunk: Buffer): ScannedItem[] {
    if (this.failure) throw this.failure;
    if (this.ended) throw new Error('CreateBodyScanner.push() called after end()');
    const out: ScannedItem[] = [];
    this.chunk = chunk;
    this.base = this.seen;
    try {
      this.run(chunk, out);
    } catch (err) {
      if (err instanceof IngestError) this.failure = err;
      throw err;
    } finally {
      this.chunk = EMPTY;
      this.seen += chunk.length;
    }
    return out;
  }

  /** Call at the end of the body. Throws IngestError if it is incomplete or invalid. Returns the item count. */
  end(): number {
    if (this.failure) throw this.failure;
    this.ended = true;
    if (this.state !== TRAILING) {
      this.failure = new IngestError('invalid JSON: unexpected end of body');
      throw this.failure;
    }
    return this.count;
  }

  private run(buf: Buffer, out: ScannedItem[]): void {
    const n = buf.length;
    let i = 0;
    while (i < n) {
      const state = this.state;
      if (state === VALUE) {
        i = this.scanValue(buf, i, n);
      } else if (state === KEY_STRING) {
        i = this.scanKey(buf, i, n);
      } else {
        const c = buf[i]!;
        if (!isWhitespace(c)) this.structural(c, this.base + i, out);
        i++;
      }
    }
    if (this.capturing) {
      // Check before keeping the tail, so a request over the limit is never buffered past it.
      const held = this.base + n - this.capStart;
      if (this.capIsItem && held > this.maxItemBytes) throw this.tooLarge();
      if (!this.capIsItem && held > MAX_TOP_KEY_BYTES) throw topKeyTooLong();
      this.capParts.push(this.capStart > this.base ? buf.subarray(this.capStart - this.base) : buf);
    }
  }

  /** Handles one non-whitespace byte of the outer grammar. */
  private structural(c: number, abs: number, out: ScannedItem[]): void {
    switch (this.state) {
      case TOP_BEFORE:
        if (c === LBRACE) this.state = TOP_KEY_OR_END;
        else if (isValueStart(c)) throw new IngestError('Input should be a valid dictionary or object');
        else throw unexpected(abs, c);
        break;
      case TOP_KEY_OR_END:
        if (c === RBRACE) this.closeTop();
        else if (c === QUOTE) this.beginKey(abs, false);
        else throw unexpected(abs, c);
        break;
      case TOP_KEY:
        if (c !== QUOTE) throw unexpected(abs, c);
        this.beginKey(abs, false);
        break;
      case TOP_COLON:
        if (c !== COLON) throw unexpected(abs, c);
        this.state = REQUESTS_VALUE;
        break;
      case REQUESTS_VALUE:
        if (c === LBRACKET) this.state = ELEMENT_OR_END;
        else if (isValueStart(c)) throw new IngestError('requests: Input should be a valid list');
        else throw unexpected(abs, c);
        break;
      case ELEMENT_OR_END:
        if (c === RBRACKET)
          throw new IngestError('requests: List should have at least 1 item after validation, not 0');
        this.beginElement(c, abs);
        break;
      case ELEMENT:
        this.beginElement(c, abs);
        break;
      case AFTER_ELEMENT:
        if (c === COMMA) this.state = ELEMENT;
        else if (c === RBRACKET) this.state = TOP_AFTER_VALUE;
        else throw unexpected(abs, c);
        break;
      case ITEM_KEY_OR_END:
        if (c === RBRACE) this.finishItem(abs + 1, out);
        else if (c === QUOTE) this.beginKey(abs, true);
        else throw unexpected(abs, c);
        break;
      case ITEM_KEY:
        if (c !== QUOTE) throw unexpected(abs, c);
        this.beginKey(abs, true);
        break;
      case ITEM_COLON:
        if (c !== COLON) throw unexpected(abs, c);
        this.state = ITEM_VALUE;
        break;
      case ITEM_VALUE:
        this.beginValue(c, abs, this.target);
        break;
      case AFTER_ITEM_VALUE:
        if (c === COMMA) this.state = ITEM_KEY;
        else if (c === RBRACE) this.finishItem(abs + 1, out);
        else throw unexpected(abs, c);
        break;
      case TOP_AFTER_VALUE:
        if (c === COMMA) this.state = TOP_KEY;
        else if (c === RBRACE) this.closeTop();
        else throw unexpected(abs, c);
        break;
      default:
        throw new IngestError(`${describeUnexpected(abs, c)} after the top-level object`);
    }
  }

  private closeTop(): void {
    if (!this.sawRequests) throw new IngestError('requests: Field required');
    this.state = TRAILING;
  }

  private beginElement(c: number, abs: number): void {
    if (c !== LBRACE && !isValueStart(c)) throw unexpected(abs, c);
    if (this.started === this.maxItems) {
      throw new IngestError(`requests: List should have at most ${this.maxItems} items after validation`);
    }
    this.index = this.started++;
    this.startCapture(abs, true);
    if (c === LBRACE) {
      this.state = ITEM_KEY_OR_END;
      this.seenKeys = 0;
      this.customId = null;
      this.params = null;
    } else {
      this.beginValue(c, abs, T_ELEMENT);
    }
  }

  private finishItem(endAbs: number, out: ScannedItem[]): void {
    if (endAbs - this.capStart > this.maxItemBytes) throw this.tooLarge();
    const path = `requests.${this.index}`;
    if (this.customId === null) throw new IngestError(`${path}.custom_id: Field required`);
    if (this.params === null) throw new IngestError(`${path}.params: Field required`);
    out.push({ index: this.index, customId: this.customId, params: this.params, model: this.model });
    this.count++;
    this.customId = null;
    this.params = null;
    this.model = null;
    this.releaseCapture();
    this.state = AFTER_ELEMENT;
  }

  private startCapture(abs: number, isItem: boolean): void {
    this.capturing = true;
    this.capIsItem = isItem;
    this.capStart = abs;
  }

  private releaseCapture(): void {
    this.capturing = false;
    if (this.capParts.length > 0) this.capParts = [];
  }

  /**
   * The bytes at absolute offsets [a, b), which must lie within the capture or the current chunk. A view into the
   * chunk unless they span chunks or `copy` is set; emitted params are always copied so they never pin a chunk.
   */
  private bytes(a: number, b: number, copy: boolean): Buffer {
    const base = this.base;
    if (a >= base) {
      if (!copy) return this.chunk.subarray(a - base, b - base);
      const out = Buffer.allocUnsafe(b - a);
      this.chunk.copy(out, 0, a - base, b - base);
      return out;
    }
    const out = Buffer.allocUnsafe(b - a);
    let pos = this.capStart;
    let w = 0;
    for (const part of this.capParts) {
      const end = pos + part.length;
      if (end > a && pos < b) w += part.copy(out, w, Math.max(0, a - pos), Math.min(part.length, b - pos));
      pos = end;
    }
    if (b > base) this.chunk.copy(out, w, 0, b - base);
    return out;
  }

  private beginKey(abs: number, inItem: boolean): void {
    this.state = KEY_STRING;
    this.keyStart = abs;
    this.keyEscape = false;
    this.keyInItem = inItem;
    if (!inItem) this.startCapture(abs, false);
  }

  /** Scans an object key up to its closing quote. */
  private scanKey(buf: Buffer, i: number, n: number): number {
    let pendingEscape = this.keyEscape;
    while (i < n) {
      const c = buf[i++]!;
      if (pendingEscape) pendingEscape = false;
      else if (c === BACKSLASH) pendingEscape = true;
      else if (c === QUOTE) {
        this.keyEscape = false;
        this.finishKey(this.base + i);
        return i;
      }
    }
    this.keyEscape = pendingEscape;
    return i;
  }

  private finishKey(endAbs: number): void {
    const raw = this.bytes(this.keyStart, endAbs, false);
    if (!this.keyInItem) {
      if (raw.length > MAX_TOP_KEY_BYTES) throw topKeyTooLong();
      const key = raw.equals(KEY_REQUESTS) ? 'requests' : (this.parseJson(raw, this.keyStart, -1) as string);
      this.releaseCapture();
      if (key !== 'requests') throw new IngestError(`${echoKey(key)}: Extra inputs are not permitted`);
      if (this.sawRequests) throw new IngestError('requests: duplicate key in object');
      this.sawRequests = true;
      this.state = TOP_COLON;
      return;
    }
    const key = raw.equals(KEY_CUSTOM_ID)
      ? 'custom_id'
      : raw.equals(KEY_PARAMS)
        ? 'params'
        : (this.parseJson(raw, this.keyStart, -1) as string);
    const path = `requests.${this.index}`;
    let bit: number;
    if (key === 'custom_id') {
      bit = SEEN_CUSTOM_ID;
      this.target = T_CUSTOM_ID;
    } else if (key === 'params') {
      bit = SEEN_PARAMS;
      this.target = T_PARAMS;
    } else {
      throw new IngestError(`${path}.${echoKey(key)}: Extra inputs are not permitted`);
    }
    if (this.seenKeys & bit) throw new IngestError(`${path}.${key}: duplicate key in object`);
    this.seenKeys |= bit;
    this.state = ITEM_COLON;
  }

  private beginValue(c: number, abs: number, target: number): void {
    this.state = VALUE;
    this.target = target;
    this.valueStart = abs;
    this.valueScalar = false;
    this.valueDepth = 0;
    this.valueInString = false;
    this.valueEscape = false;
    if (c === LBRACE || c === LBRACKET) {
      this.stack[0] = c;
      this.valueDepth = 1;
    } else if (c === QUOTE) {
      this.valueInString = true;
    } else if (SCALAR_BYTE[c] === 1) {
      this.valueScalar = true;
    } else {
      throw unexpected(abs, c);
    }
  }

  /**
   * The hot loop: finds the end of a value by tracking strings, escapes and bracket nesting. Everything else is left
   * to JSON.parse on the finished slice; bracket kinds are matched here so a stray `]` fails at its own byte.
   */
  private scanValue(buf: Buffer, start: number, n: number): number {
    let i = start;
    if (this.valueScalar) {
      while (i < n && SCALAR_BYTE[buf[i]!] === 1) i++;
      if (i < n) this.finishValue(this.base + i);
      return i;
    }
    const stack = this.stack;
    const maxDepth = this.maxDepth;
    let depth = this.valueDepth;
    let inString = this.valueInString;
    let pendingEscape = this.valueEscape;
    while (i < n) {
      let c = buf[i]!;
      if (inString) {
        if (pendingEscape) {
          pendingEscape = false;
          i++;
          continue;
        }
        while (c !== QUOTE && c !== BACKSLASH) {
          if (++i === n) break;
          c = buf[i]!;
        }
        if (i === n) break;
        i++;
        if (c === BACKSLASH) {
          pendingEscape = true;
          continue;
        }
        inString = false;
        if (depth === 0) {
          this.finishValue(this.base + i);
          return i;
        }
        continue;
      }
      i++;
      if (c === QUOTE) {
        inString = true;
      } else if (c === LBRACE || c === LBRACKET) {
        if (depth === maxDepth)
          throw new IngestError(`${this.valuePath()}: nesting deeper than ${maxDepth} levels`);
        stack[depth++] = c;
      } else if (c === RBRACE || c === RBRACKET) {
        // `}` and `]` are their openers plus 2.
        if (stack[--depth] !== c - 2) throw unexpected(this.base + i - 1, c);
        if (depth === 0) {
          this.finishValue(this.base + i);
          return i;
        }
      }
    }
    this.valueDepth = depth;
    this.valueInString = inString;
    this.valueEscape = pendingEscape;
    return i;
  }

  /** The JSON path of the key or value being finished, for error messages. */
  private errorPath(): string {
    if (this.state === KEY_STRING) return this.keyInItem ? `requests.${this.index} key` : 'object key';
    return this.valuePath();
  }

  private valuePath(): string {
    const path = `requests.${this.index}`;
    if (this.target === T_CUSTOM_ID) return `${path}.custom_id`;
    if (this.target === T_PARAMS) return `${path}.params`;
    return path;
  }

  private finishValue(endAbs: number): void {
    if (endAbs - this.capStart > this.maxItemBytes) throw this.tooLarge();
    const start = this.valueStart;
    // A number or literal ends at the byte after it; a syntax error "at its end" is really about that byte.
    const next = this.valueScalar ? this.chunk[endAbs - this.base]! : -1;
    switch (this.target) {
      case T_CUSTOM_ID:
        this.customId = this.claimCustomId(this.bytes(start, endAbs, false), next);
        break;
      case T_PARAMS: {
        const raw = this.bytes(start, endAbs, true);
        const value = this.checkJson(raw, start, next);
        if (raw[0] !== LBRACE)
          throw new IngestError(`${this.valuePath()}: Input should be a valid dictionary`);
        this.params = raw;
        this.model = modelOf(value);
        break;
      }
      default:
        this.parseJson(this.bytes(start, endAbs, false), start, next);
        throw new IngestError(`${this.valuePath()}: Input should be a valid dictionary or object`);
    }
    this.state = AFTER_ITEM_VALUE;
  }

  private claimCustomId(raw: Buffer, next: number): string {
    let id: string | null = null;
    const len = raw.length;
    // Fast path: a quoted run of pattern bytes needs no decoding.
    if (raw[0] === QUOTE && len >= 3 && len <= 66) {
      let j = 1;
      while (j < len - 1 && ID_BYTE[raw[j]!] === 1) j++;
      if (j === len - 1) id = raw.toString('latin1', 1, len - 1);
    }
    const path = `requests.${this.index}.custom_id`;
    if (id === null) {
      const value = this.parseJson(raw, this.valueStart, next);
      if (typeof value !== 'string') throw new IngestError(`${path}: Input should be a valid string`);
      const chars = [...value].length;
      if (chars === 0) throw new IngestError(`${path}: String should have at least 1 character`);
      if (chars > 64) throw new IngestError(`${path}: String should have at most 64 characters`);
      if (!ID_PATTERN.test(value))
        throw new IngestError(`${path}: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`);
      id = value;
    }
    if (this.ids.has(id)) {
      throw new IngestError(
        `${path}: duplicate custom_id "${id}": custom_id must be unique within the batch`,
      );
    }
    this.ids.add(id);
    return id;
  }

  /**
   * Validates UTF-8 and JSON of a slice whose parsed value is not needed. Once the bytes are known to be UTF-8, decoding
   * them as latin1 keeps JSON validity intact (bytes >= 0x80 only ever occur inside strings, where any such character
   * is allowed) and gives V8 a one-byte string, which is cheaper to build and to parse. `abs` is the slice's absolute
   * offset; `next` is the byte after it when that byte ended a number or literal, else -1.
   */
  private checkJson(raw: Buffer, abs: number, next: number): unknown {
    if (!isUtf8(raw)) throw new IngestError(`${this.errorPath()}: invalid UTF-8 in request body`);
    try {
      return JSON.parse(raw.toString('latin1'));
    } catch (err) {
      throw syntaxError(err, raw, abs, this.errorPath(), next);
    }
  }

  /** Like checkJson, for small slices whose value is needed (keys may contain escapes: `"requ\u0065sts"`). */
  private parseJson(raw: Buffer, abs: number, next: number): unknown {
    // toString would silently turn invalid UTF-8 into U+FFFD, so check first.
    if (!isUtf8(raw)) throw new IngestError(`${this.errorPath()}: invalid UTF-8 in request body`);
    const text = raw.toString('utf8');
    try {
      return JSON.parse(text);
    } catch (err) {
      throw syntaxError(err, raw, abs, this.errorPath(), next);
    }
  }

  private tooLarge(): IngestError {
    return new IngestError(
      `requests.${this.index}: request is larger than the ${this.maxItemBytes}-byte limit`,
    );
  }
}

/** Turns a JSON.parse failure into an IngestError naming the absolute byte where the slice stops being JSON. */
function syntaxError(err: unknown, raw: Buffer, abs: number, path: string, next: number): IngestError {
  const at = locateSyntaxError(raw);
  if (at === raw.length && next >= 0) return unexpected(abs + at, next);
  if (at === raw.length) return new IngestError(`invalid JSON at byte ${abs + at}: unexpected end of value`);
  if (at >= 0) return new IngestError(describeUnexpected(abs + at, raw[at]!));
  // The locator found nothing JSON.parse objected to (it should not happen): fall back to V8's words.
  return new IngestError(`invalid JSON in ${path}: ${err instanceof Error ? err.message : String(err)}`);
}

/**
 * The offset of the first byte at which `raw` stops being one JSON value (`raw.length` if it ends early), or -1 if
 * it is valid. Only runs on the error path, after JSON.parse failed, to give the client a byte position.
 */
function locateSyntaxError(raw: Buffer): number {
  const n = raw.length;
  const stack: number[] = [];
  let i = 0;
  // 0: a value, 1: a value or `]`, 2: a key, 3: a key or `}`, 4: after a value
  let expect = 0;
  for (;;) {
    while (i < n && isWhitespace(raw[i]!)) i++;
    if (i === n) return stack.length === 0 && expect === 4 ? -1 : n;
    const c = raw[i]!;
    if (expect === 4) {
      const open = stack.at(-1);
      if (open === undefined) return i;
      if (c === open + 2) {
        stack.pop();
        i++;
      } else if (c === COMMA) {
        i++;
        expect = open === LBRACE ? 2 : 0;
      } else {
        return i;
      }
      continue;
    }
    if (expect >= 2) {
      if (c === RBRACE && expect === 3) {
        stack.pop();
        i++;
        expect = 4;
        continue;
      }
      if (c !== QUOTE) return i;
      i = skipString(raw, i);
      if (i < 0) return -i - 1;
      while (i < n && isWhitespace(raw[i]!)) i++;
      if (i === n) return n;
      if (raw[i] !== COLON) return i;
      i++;
      expect = 0;
      continue;
    }
    if (c === RBRACKET && expect === 1) {
      stack.pop();
      i++;
      expect = 4;
    } else if (c === LBRACE || c === LBRACKET) {
      stack.push(c);
      i++;
      expect = c === LBRACE ? 3 : 1;
    } else if (c === QUOTE) {
      i = skipString(raw, i);
      if (i < 0) return -i - 1;
      expect = 4;
    } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
      const word = c === 0x74 ? 'true' : c === 0x66 ? 'false' : 'null';
      for (let k = 0; k < word.length; k++, i++) {
        if (i === n) return n;
        if (raw[i] !== word.charCodeAt(k)) return i;
      }
      expect = 4;
    } else {
      i = skipNumber(raw, i);
      if (i < 0) return -i - 1;
      expect = 4;
    }
  }
}

/** Skips the string starting at `i`; returns the offset after it, or -(error offset) - 1. */
function skipString(raw: Buffer, start: number): number {
  const n = raw.length;
  let i = start + 1;
  while (i < n) {
    const c = raw[i]!;
    if (c === QUOTE) return i + 1;
    if (c < 0x20) return -i - 1;
    if (c !== BACKSLASH) {
      i++;
      continue;
    }
    if (++i === n) break;
    const e = raw[i]!;
    if (e === 0x75) {
      for (let k = 0; k < 4; k++) {
        if (++i === n) return -n - 1;
        if (!isHexDigit(raw[i]!)) return -i - 1;
      }
    } else if (!'"\\/bfnrt'.includes(String.fromCharCode(e))) {
      return -i - 1;
    }
    i++;
  }
  return -n - 1;
}

/** Skips the number starting at `i`; returns the offset after it, or -(error offset) - 1. */
function skipNumber(raw: Buffer, start: number): number {
  const n = raw.length;
  let i = start;
  const digits = (): boolean => {
    const from = i;
    while (i < n && isDigit(raw[i]!)) i++;
    return i > from;
  };
  if (raw[i] === 0x2d) i++;
  if (raw[i] === 0x30) i++;
  else if (!digits()) return -i - 1;
  if (raw[i] === 0x2e) {
    i++;
    if (!digits()) return -i - 1;
  }
  if (raw[i] === 0x65 || raw[i] === 0x45) {
    i++;
    if (raw[i] === 0x2b || raw[i] === 0x2d) i++;
    if (!digits()) return -i - 1;
  }
  return i;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function describeUnexpected(abs: number, c: number): string {
  const what =
    c >= 0x20 && c < 0x7f
      ? `character '${String.fromCharCode(c)}'`
      : `byte 0x${c.toString(16).padStart(2, '0')}`;
  return `invalid JSON at byte ${abs}: unexpected ${what}`;
}

function unexpected(abs: number, c: number): IngestError {
  return new IngestError(describeUnexpected(abs, c));
}

function topKeyTooLong(): IngestError {
  return new IngestError(
    `invalid request body: a top-level key is longer than ${MAX_TOP_KEY_BYTES} bytes; the only key allowed is "requests"`,
  );
}

function echoKey(key: string): string {
  return key.length > MAX_KEY_ECHO ? `${key.slice(0, MAX_KEY_ECHO)}…` : key;
}
