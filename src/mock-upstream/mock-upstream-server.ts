// `barge mock-upstream`: the built-in mock model behind a real HTTP port, imitating the hosted Anthropic API
// (`POST /v1/messages`) or an OpenAI-compatible server (`POST /v1/chat/completions`). It is the upstream of the
// end-to-end tests and the benchmark, so it uses node:http directly, answers without a timer when latency is 0,
// and counts what it saw (in flight, per status, per fault, per body) for tests to assert on.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mockMessage } from '../backends/mock/mock-message.ts';
import { Prng } from '../backends/mock/prng.ts';
import { type MockSeed, seedFromBytes, seedFromText } from '../backends/mock/seed.ts';
import { type Clock, systemClock } from '../domain/clock.ts';
import { randomId } from '../domain/ids.ts';
import { type AnthropicErrorType, errorEnvelope } from '../wire/error-envelope.ts';
import { isJsonObject as isObj, type JsonObject } from '../wire/json-object.ts';
import {
  chatCompletion,
  chatRequestToParams,
  type LimitSnapshot,
  OPENAI_CHAT_PATH,
  openAiErrorBody,
  openAiRateLimitHeaders,
} from './openai-shim.ts';

type Obj = JsonObject;

export interface MockUpstreamOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  protocol: 'anthropic' | 'openai';
  /** Latency of each answered request, uniform in [minMs, maxMs]; no timer at all when maxMs is 0. */
  latency: { minMs: number; maxMs: number };
  /** Per-minute token buckets, continuously refilled; an absent dimension is unlimited. */
  budget: { requestsPerMinute?: number; inputTokensPerMinute?: number; outputTokensPerMinute?: number };
  /** Shares of requests (0..1, summing to at most 1) that get each injected fault. */
  faults: { rate429: number; rate529: number; rate500: number; rateReset: number; rateHang: number };
  /** `retry-after` on injected 429s. */
  retryAfterSeconds: number;
  /** Seeds the fault and latency draws (default 1), so a run is repeatable. */
  seed?: number;
  /** When set, requests must carry this key (`x-api-key` or `authorization: Bearer`). */
  requireApiKey?: string;
  /** Time for the rate-limit buckets and `created` (tests move it by hand). */
  clock?: Clock;
}

/** Injected faults and budget refusals, counted separately. */
export interface MockUpstreamFaultCounts {
  /** 429 because a budget bucket was empty. */
  budget429: number;
  injected429: number;
  /** 529 (503 in openai mode). */
  overloaded: number;
  /** 500. */
  apiError: number;
  /** Socket destroyed without an answer. */
  reset: number;
  /** Never answered. */
  hang: number;
}

export interface MockUpstreamStats {
  /** Model requests received (the `/_mock/*` routes are not counted). */
  requests: number;
  inFlight: number;
  /** The most model requests ever open at once: tests check the client's concurrency limit with it. */
  maxInFlight: number;
  /** Answers by HTTP status (resets and hangs have none). */
  byStatus: Record<string, number>;
  faults: MockUpstreamFaultCounts;
  /** Distinct request bodies (by SHA-1 of the bytes) and the most times any one of them was seen. */
  distinctBodies: number;
  maxSeenPerBody: number;
}

export interface MockUpstream {
  /** `http://host:port`. */
  url: string;
  port: number;
  stats(): MockUpstreamStats;
  /** How many times each request body was seen, keyed by `bodyHash` of its bytes. */
  seenCounts(): Map<string, number>;
  resetStats(): void;
  /** Stops listening and destroys every open socket, hung ones included. */
  close(): Promise<void>;
}

/** The key `seenCounts` uses for a request body: hex SHA-1 of its bytes. */
export function bodyHash(body: Uint8Array | string): string {
  return createHash('sha1').update(body).digest('hex');
}

const MAX_BODY_BYTES = 32 * 1024 * 1024; // the hosted Messages API's limit
const MINUTE_MS = 60_000;
const TEXT_PIECES = 4;
const JSON_PIECES = 3;

// ---------------------------------------------------------------------------------------------------------------
// Options

function validate(o: MockUpstreamOptions): void {
  const { minMs, maxMs } = o.latency;
  if (!(Number.isFinite(minMs) && Number.isFinite(maxMs) && minMs >= 0 && maxMs >= minMs)) {
    throw new RangeError(`latency must satisfy 0 <= min <= max, got ${minMs}..${maxMs} ms`);
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
    throw new RangeError(`port must be between 0 and 65535, got ${o.port}`);
  }
  for (const [name, v] of Object.entries(o.budget)) {
    if (v !== undefined && !(Number.isSafeInteger(v) && v > 0)) {
      throw new RangeError(`budget ${name} must be a positive whole number, got ${v}`);
    }
  }
  let sum = 0;
  for (const [name, v] of Object.entries(o.faults)) {
    if (!(Number.isFinite(v) && v >= 0 && v <= 1)) {
      throw new RangeError(`fault ${name} must be between 0 and 1, got ${v}`);
    }
    sum += v;
  }
  if (sum > 1 + 1e-9) throw new RangeError(`the fault rates add up to ${sum}, more than 1`);
  if (!(Number.isFinite(o.retryAfterSeconds) && o.retryAfterSeconds >= 0 && o.retryAfterSeconds <= 86_400)) {
    throw new RangeError(`retryAfterSeconds must be between 0 and 86400, got ${o.retryAfterSeconds}`);
  }
  if (o.seed !== undefined && !(Number.isSafeInteger(o.seed) && o.seed >= 0)) {
    throw new RangeError(`seed must be a whole number >= 0, got ${o.seed}`);
  }
  if (o.requireApiKey === '') throw new RangeError('requireApiKey must not be empty');
}

// ---------------------------------------------------------------------------------------------------------------
// Rate-limit budget

/** A per-minute token bucket, refilled continuously (the hosted API's model). */
class Bucket {
  private level: number;
  private at: number;

  constructor(
    readonly limit: number,
    now: number,
  ) {
    this.level = limit;
    this.at = now;
  }

  private refill(now: number): void {
    if (now <= this.at) return;
    // Multiply before dividing so whole-second steps refill whole tokens exactly.
    this.level = Math.min(this.limit, this.level + ((now - this.at) * this.limit) / MINUTE_MS);
    this.at = now;
  }

  /**
   * Milliseconds until `need` fits. A need above the limit only waits for a full bucket and then runs it into
   * debt: refusing it forever would deadlock a client whose single request is bigger than the budget.
   */
  waitMs(need: number, now: number): number {
    this.refill(now);
    const want = Math.min(need, this.limit);
    return this.level >= want ? 0 : ((want - this.level) * MINUTE_MS) / this.limit;
  }

  take(n: number): void {
    this.level -= n;
  }

  snapshot(now: number): LimitSnapshot {
    this.refill(now);
    return {
      limit: this.limit,
      remaining: Math.max(0, Math.floor(this.level)),
      resetMs: ((this.limit - this.level) * MINUTE_MS) / this.limit,
    };
  }
}

type Refusal = { dimension: 'requests' | 'input tokens' | 'output tokens'; limit: number; waitMs: number };

class Budget {
  private readonly requests: Bucket | undefined;
  private readonly input: Bucket | undefined;
  private readonly output: Bucket | undefined;
  readonly active: boolean;

  constructor(b: MockUpstreamOptions['budget'], now: number) {
    this.requests = b.requestsPerMinute ? new Bucket(b.requestsPerMinute, now) : undefined;
    this.input = b.inputTokensPerMinute ? new Bucket(b.inputTokensPerMinute, now) : undefined;
    this.output = b.outputTokensPerMinute ? new Bucket(b.outputTokensPerMinute, now) : undefined;
    this.active = Boolean(this.requests || this.input || this.output);
  }

  /** Takes one request and its tokens from every bucket, or says which one is short and for how long. */
  admit(inputTokens: number, outputTokens: number, now: number): Refusal | null {
    let worst: Refusal | null = null;
    const check = (bucket: Bucket | undefined, need: number, dimension: Refusal['dimension']): void => {
      if (!bucket) return;
      const waitMs = bucket.waitMs(need, now);
      if (waitMs > 0 && (!worst || waitMs > worst.waitMs)) worst = { dimension, limit: bucket.limit, waitMs };
    };
    check(this.requests, 1, 'requests');
    check(this.input, inputTokens, 'input tokens');
    check(this.output, outputTokens, 'output tokens');
    if (worst) return worst;
    this.requests?.take(1);
    this.input?.take(inputTokens);
    this.output?.take(outputTokens);
    return null;
  }

  /** The four dimensions the hosted API reports; `tokens` combines input and output. */
  snapshots(now: number): {
    requests?: LimitSnapshot;
    input?: LimitSnapshot;
    output?: LimitSnapshot;
    tokens?: LimitSnapshot;
  } {
    const requests = this.requests?.snapshot(now);
    const input = this.input?.snapshot(now);
    const output = this.output?.snapshot(now);
    const parts = [input, output].filter((s): s is LimitSnapshot => s !== undefined);
    const tokens =
      parts.length === 0
        ? undefined
        : {
            limit: parts.reduce((n, s) => n + s.limit, 0),
            remaining: parts.reduce((n, s) => n + s.remaining, 0),
            resetMs: Math.max(...parts.map((s) => s.resetMs)),
          };
    return {
      ...(requests && { requests }),
      ...(input && { input }),
      ...(output && { output }),
      ...(tokens && { tokens }),
    };
  }
}

/** RFC 3339 at whole seconds, rounded up: `2026-11-25T12:00:01Z`. */
function rfc3339(ms: number): string {
  return new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function anthropicRateLimitHeaders(budget: Budget, now: number): Record<string, string> {
  const out: Record<string, string> = {};
  const s = budget.snapshots(now);
  for (const [name, snap] of [
    ['requests', s.requests],
    ['input-tokens', s.input],
    ['output-tokens', s.output],
    ['tokens', s.tokens],
  ] as const) {
    if (!snap) continue;
    out[`anthropic-ratelimit-${name}-limit`] = String(snap.limit);
    out[`anthropic-ratelimit-${name}-remaining`] = String(snap.remaining);
    out[`anthropic-ratelimit-${name}-reset`] = rfc3339(now + snap.resetMs);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Streaming (Anthropic SSE)

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

// ---------------------------------------------------------------------------------------------------------------
// Protocols

type ErrorKind = 'invalid' | 'auth' | 'not_found' | 'too_large' | 'rate_limit' | 'overloaded' | 'api_error';

/** A request the mock model can answer: its params and the seed of its answer. */
type Prepared = { ok: true; params: Obj; seed: MockSeed; stream: boolean } | { ok: false; message: string };

/** What differs between the two faces of the mock: paths, validation, body shapes and headers. */
interface Wire {
  path: string;
  requestIdHeader: string;
  /** A header problem (the hosted API's required `anthropic-version`), checked after auth. */
  headerProblem(req: IncomingMessage): string | null;
  prepare(body: Buffer, parsed: unknown): Prepared;
  errorStatus(kind: ErrorKind): number;
  errorBody(kind: ErrorKind, message: string, requestId: string, rateLimitType?: string): unknown;
  success(message: Obj, now: number): string;
  rateLimitHeaders(budget: Budget, now: number): Record<string, string>;
}

const ANTHROPIC_ERRORS: Record<ErrorKind, [number, AnthropicErrorType]> = {
  invalid: [400, 'invalid_request_error'],
  auth: [401, 'authentication_error'],
  not_found: [404, 'not_found_error'],
  too_large: [413, 'request_too_large'],
  rate_limit: [429, 'rate_limit_error'],
  overloaded: [529, 'overloaded_error'],
  api_error: [500, 'api_error'],
};

function anthropicProblem(p: Obj): string | null {
  if (typeof p.model !== 'string' || p.model === '') return 'model: Field required';
  if (p.max_tokens === undefined) return 'max_tokens: Field required';
  if (typeof p.max_tokens !== 'number' || !Number.isInteger(p.max_tokens) || p.max_tokens < 1) {
    return 'max_tokens: Input should be a valid integer greater than or equal to 1';
  }
  if (!Array.isArray(p.messages)) return 'messages: Field required';
  if (p.messages.length === 0) return 'messages: at least one message is required';
  return null;
}

const anthropicWire: Wire = {
  path: '/v1/messages',
  requestIdHeader: 'request-id',
  headerProblem: (req) => (req.headers['anthropic-version'] ? null : 'anthropic-version: header is required'),
  prepare(body, parsed) {
    if (!isObj(parsed)) return { ok: false, message: 'The request body must be a JSON object' };
    const problem = anthropicProblem(parsed);
    if (problem) return { ok: false, message: problem };
    if (!('stream' in parsed)) return { ok: true, params: parsed, seed: seedFromBytes(body), stream: false };
    // `stream` does not change the answer: seed from the body without it, which for the SDKs' compact JSON equals
    // the bytes of the same request sent without streaming.
    const { stream, ...params } = parsed;
    return { ok: true, params, seed: seedFromText(JSON.stringify(params)), stream: stream === true };
  },
  errorStatus: (kind) => ANTHROPIC_ERRORS[kind][0],
  errorBody: (kind, message, requestId) => errorEnvelope(ANTHROPIC_ERRORS[kind][1], message, requestId),
  success: (message) => JSON.stringify(message),
  rateLimitHeaders: anthropicRateLimitHeaders,
};

const OPENAI_ERRORS: Record<ErrorKind, [number, string, string | null]> = {
  invalid: [400, 'invalid_request_error', null],
  auth: [401, 'invalid_request_error', 'invalid_api_key'],
  not_found: [404, 'invalid_request_error', null],
  too_large: [413, 'invalid_request_error', null],
  rate_limit: [429, 'requests', 'rate_limit_exceeded'],
  overloaded: [503, 'server_error', null],
  api_error: [500, 'server_error', null],
};

const openAiWire: Wire = {
  path: OPENAI_CHAT_PATH,
  requestIdHeader: 'x-request-id',
  headerProblem: () => null,
  prepare(body, parsed) {
    const t = chatRequestToParams(parsed);
    return t.ok ? { ok: true, params: t.params, seed: seedFromBytes(body), stream: false } : t;
  },
  errorStatus: (kind) => OPENAI_ERRORS[kind][0],
  errorBody: (kind, message, _requestId, rateLimitType) => {
    const [, type, code] = OPENAI_ERRORS[kind];
    return openAiErrorBody(message, rateLimitType ?? type, code);
  },
  success: (message, now) => JSON.stringify(chatCompletion(message, Math.floor(now / 1000))),
  rateLimitHeaders(budget, now) {
    const s = budget.snapshots(now);
    return openAiRateLimitHeaders(s.requests, s.tokens);
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Stats

function emptyFaults(): MockUpstreamFaultCounts {
  return { budget429: 0, injected429: 0, overloaded: 0, apiError: 0, reset: 0, hang: 0 };
}

class StatsBook {
  requests = 0;
  inFlight = 0;
  maxInFlight = 0;
  byStatus = new Map<number, number>();
  faults = emptyFaults();
  seen = new Map<string, number>();
  maxSeenPerBody = 0;

  begin(): void {
    this.requests++;
    this.inFlight++;
    if (this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
  }

  status(code: number): void {
    this.byStatus.set(code, (this.byStatus.get(code) ?? 0) + 1);
  }

  body(hash: string): void {
    const n = (this.seen.get(hash) ?? 0) + 1;
    this.seen.set(hash, n);
    if (n > this.maxSeenPerBody) this.maxSeenPerBody = n;
  }

  /** Everything back to zero, except what is open right now. */
  reset(): void {
    this.requests = 0;
    this.maxInFlight = this.inFlight;
    this.byStatus.clear();
    this.faults = emptyFaults();
    this.seen.clear();
    this.maxSeenPerBody = 0;
  }

  snapshot(): MockUpstreamStats {
    return {
      requests: this.requests,
      inFlight: this.inFlight,
      maxInFlight: this.maxInFlight,
      byStatus: Object.fromEntries([...this.byStatus].map(([k, v]) => [String(k), v])),
      faults: { ...this.faults },
      distinctBodies: this.seen.size,
      maxSeenPerBody: this.maxSeenPerBody,
    };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Server

type Fault = 'none' | 'injected429' | 'overloaded' | 'apiError' | 'reset' | 'hang';

/** `req_…` ids: a random prefix per server plus a counter (fresh randomness per request showed up in profiles). */
function requestIdSource(): () => string {
  const prefix = randomId('req').slice(0, 18);
  let n = 0;
  return () => prefix + (n++).toString(36).padStart(10, '0');
}

function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/** The key a request presents: `x-api-key`, else `authorization: Bearer …` (what the 1.x SDKs send). */
function presentedKey(req: IncomingMessage): string | undefined {
  const x = req.headers['x-api-key'];
  if (typeof x === 'string') return x;
  const auth = req.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
}

function sendJson(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Starts the mock upstream and resolves once it listens. */
/** The largest `max_tokens` the mock model accepts, like a real model's output limit. */
export const MAX_OUTPUT_TOKENS = 128_000;

export async function startMockUpstream(o: MockUpstreamOptions): Promise<MockUpstream> {
  // `retry-after` is whole seconds on the wire; a fractional wait is also sent as `retry-after-ms`, which the
  // official SDKs (and Barge) read first, so load tests can use short pauses.
  const injectedRetryAfter: Record<string, string> = Number.isInteger(o.retryAfterSeconds)
    ? { 'retry-after': String(o.retryAfterSeconds) }
    : {
        'retry-after': String(Math.ceil(o.retryAfterSeconds)),
        'retry-after-ms': String(Math.round(o.retryAfterSeconds * 1000)),
      };
  validate(o);
  const clock = o.clock ?? systemClock;
  const wire = o.protocol === 'openai' ? openAiWire : anthropicWire;
  const budget = new Budget(o.budget, clock.now());
  const seed = o.seed ?? 1;
  const seedHi = Math.floor(seed / 2 ** 32) >>> 0;
  // Two streams, so changing the fault rates does not shift the latency draws and vice versa.
  const faultRng = new Prng({ hi: seed >>> 0, lo: seedHi ^ 0x0fa017 });
  const latencyRng = new Prng({ hi: seed >>> 0, lo: seedHi ^ 0x1a7e4c });
  const apiKeyDigest = o.requireApiKey === undefined ? undefined : keyDigest(o.requireApiKey);
  const { minMs, maxMs } = o.latency;
  const f = o.faults;
  const faultTable: [Fault, number][] = [
    ['injected429', f.rate429],
    ['overloaded', f.rate529],
    ['apiError', f.rate500],
    ['reset', f.rateReset],
    ['hang', f.rateHang],
  ];
  const book = new StatsBook();
  const timers = new Set<NodeJS.Timeout>();
  const nextRequestId = requestIdSource();

  const drawFault = (): Fault => {
    let u = faultRng.u32() / 4294967296;
    for (const [kind, rate] of faultTable) {
      if (u < rate) return kind;
      u -= rate;
    }
    return 'none';
  };

  const drawLatency = (): number =>
    maxMs > 0 ? minMs + Math.floor((latencyRng.u32() / 4294967296) * (maxMs - minMs + 1)) : 0;

  const authorized = (req: IncomingMessage): boolean => {
    if (!apiKeyDigest) return true;
    const key = presentedKey(req);
    return key !== undefined && timingSafeEqual(keyDigest(key), apiKeyDigest);
  };

  const answer = (
    res: ServerResponse,
    requestId: string,
    status: number,
    body: string,
    extra: Record<string, string> = {},
  ): void => {
    if (res.destroyed) return;
    book.status(status);
    const headers = { [wire.requestIdHeader]: requestId, ...extra };
    if (budget.active) Object.assign(headers, wire.rateLimitHeaders(budget, clock.now()));
    sendJson(res, status, headers, body);
  };

  const fail = (
    res: ServerResponse,
    requestId: string,
    kind: ErrorKind,
    message: string,
    extra: Record<string, string> = {},
    rateLimitType?: string,
  ): void => {
    const body = JSON.stringify(wire.errorBody(kind, message, requestId, rateLimitType));
    answer(res, requestId, wire.errorStatus(kind), body, extra);
  };

  const succeed = (res: ServerResponse, requestId: string, message: Obj, stream: boolean): void => {
    if (res.destroyed) return;
    if (!stream) {
      answer(res, requestId, 200, wire.success(message, clock.now()));
      return;
    }
    book.status(200);
    const headers: Record<string, string> = {
      [wire.requestIdHeader]: requestId,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
    };
    if (budget.active) Object.assign(headers, wire.rateLimitHeaders(budget, clock.now()));
    res.writeHead(200, headers);
    res.end(messageEventStream(message));
  };

  /** The model route, once the whole body is in. */
  const serveModel = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const requestId = nextRequestId();
    book.body(bodyHash(body));
    if (!authorized(req)) {
      const msg = o.protocol === 'openai' ? 'Incorrect API key provided' : 'invalid x-api-key';
      fail(res, requestId, 'auth', msg);
      return;
    }
    const headerProblem = wire.headerProblem(req);
    if (headerProblem) {
      fail(res, requestId, 'invalid', headerProblem);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      fail(res, requestId, 'invalid', 'The request body is not valid JSON');
      return;
    }
    const prepared = wire.prepare(body, parsed);
    if (!prepared.ok) {
      fail(res, requestId, 'invalid', prepared.message);
      return;
    }
    // A limit real models have, so clients can see a final upstream error that passes their own validation.
    const maxTokens = prepared.params.max_tokens;
    if (typeof maxTokens === 'number' && maxTokens > MAX_OUTPUT_TOKENS) {
      const model = String(prepared.params.model);
      const msg = `max_tokens: ${maxTokens} > ${MAX_OUTPUT_TOKENS}, which is the maximum allowed number of output tokens for ${model}`;
      fail(res, requestId, 'invalid', msg);
      return;
    }

    // Injected faults come before the budget and are answered at once, as an overloaded upstream's are.
    switch (drawFault()) {
      case 'injected429':
        book.faults.injected429++;
        fail(res, requestId, 'rate_limit', 'Mock upstream: injected rate limit error', injectedRetryAfter);
        return;
      case 'overloaded':
        book.faults.overloaded++;
        fail(res, requestId, 'overloaded', 'Overloaded');
        return;
      case 'apiError':
        book.faults.apiError++;
        fail(res, requestId, 'api_error', 'Internal server error');
        return;
      case 'reset':
        book.faults.reset++;
        req.socket.destroy();
        return;
      case 'hang':
        // No answer: the socket stays open until the client gives up or close() destroys it.
        book.faults.hang++;
        return;
      case 'none':
        break;
    }

    const message = mockMessage(prepared.params, prepared.seed);
    const usage = message.usage as Obj;
    if (o.protocol === 'anthropic') usage.service_tier = 'standard'; // a Messages API answer, not a batch result
    const refusal = budget.admit(usage.input_tokens as number, usage.output_tokens as number, clock.now());
    if (refusal) {
      book.faults.budget429++;
      const retryAfter = String(Math.max(1, Math.ceil(refusal.waitMs / 1000)));
      const msg = `This request would exceed the rate limit of ${refusal.limit} ${refusal.dimension} per minute; retry after ${retryAfter} s`;
      const type = refusal.dimension === 'requests' ? 'requests' : 'tokens';
      fail(res, requestId, 'rate_limit', msg, { 'retry-after': retryAfter }, type);
      return;
    }

    const ms = drawLatency();
    if (ms === 0) {
      succeed(res, requestId, message, prepared.stream);
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      succeed(res, requestId, message, prepared.stream);
    }, ms);
    timers.add(timer);
    res.once('close', () => {
      clearTimeout(timer);
      timers.delete(timer);
    });
  };

  const onModelRequest = (req: IncomingMessage, res: ServerResponse): void => {
    book.begin();
    res.once('close', () => {
      book.inFlight--;
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('error', () => {}); // a client that goes away mid-body: 'close' does the accounting
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        tooLarge = true;
        chunks.length = 0;
        const requestId = nextRequestId();
        fail(res, requestId, 'too_large', `Request exceeds the maximum size of ${MAX_BODY_BYTES} bytes`, {
          connection: 'close',
        });
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!tooLarge && !res.destroyed) serveModel(req, res, Buffer.concat(chunks, size));
    });
  };

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === wire.path && req.method === 'POST') {
      onModelRequest(req, res);
    } else if (path === '/_mock/stats' && req.method === 'GET') {
      sendJson(res, 200, {}, JSON.stringify(book.snapshot()));
    } else if (path === '/_mock/reset' && req.method === 'POST') {
      book.reset();
      sendJson(res, 200, {}, JSON.stringify({ reset: true }));
    } else {
      const requestId = nextRequestId();
      const body = wire.errorBody('not_found', `Not found: ${req.method} ${path.slice(0, 200)}`, requestId);
      sendJson(res, 404, { [wire.requestIdHeader]: requestId }, JSON.stringify(body));
    }
  });
  // Long keep-alive: load tests reuse connections, and close() destroys idle ones anyway.
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    stats: () => book.snapshot(),
    seenCounts: () => new Map(book.seen),
    resetStats: () => book.reset(),
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
