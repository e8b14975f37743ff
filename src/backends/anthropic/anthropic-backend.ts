import { type Dispatcher, Pool } from 'undici';
import type { AnthropicErrorType } from '../../wire/error-envelope.ts';
import { attemptSignal } from '../attempt-signal.ts';
import { type CallSignal, undiciSignal } from '../call-signal.ts';
import type {
  BackendOutcome,
  BackendRequest,
  HeaderBag,
  ModelBackend,
  UpstreamReport,
  Usage,
} from '../model-backend.ts';
import { errorTypeForStatus, header, isRetryableStatus, retryAfterMs } from '../upstream-errors.ts';
import type { UpstreamOptions } from '../upstream-options.ts';
import {
  envelopeError,
  MAX_ERROR_MESSAGE_CHARS,
  MessageAccumulator,
  StreamProtocolError,
} from './message-accumulator.ts';
import { SseParser, SseTooLargeError } from './sse-events.ts';

/** An upstream that speaks the Messages API: the hosted API, vLLM, llama.cpp, Ollama, SGLang, another gateway. */
// baseUrl: e.g. https://api.anthropic.com; requests go to `${baseUrl}/v1/messages` (or `${baseUrl}/messages` if it
// ends in /v1). apiKey is sent as x-api-key.
export interface AnthropicBackendOptions extends UpstreamOptions {
  /** Calls with a larger `max_tokens` stream, so long generations do not sit on an idle connection. */
  streamAboveMaxTokens: number;
}

type BodyReadable = Awaited<ReturnType<Pool['request']>>['body'];
type Obj = Record<string, unknown>;

/** Bounds on what an upstream may send back: a whole Message (or its stream), and an error body. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const MAX_ERROR_BODY_BYTES = 1024 * 1024;

const ERROR_TYPES: ReadonlySet<string> = new Set<AnthropicErrorType>([
  'invalid_request_error',
  'authentication_error',
  'billing_error',
  'permission_error',
  'not_found_error',
  'request_too_large',
  'rate_limit_error',
  'api_error',
  'timeout_error',
  'overloaded_error',
]);
/** Error types inside a 200 stream worth another attempt, as their HTTP equivalents (429, 5xx, 529) are. */
const RETRYABLE_TYPES: ReadonlySet<string> = new Set([
  'api_error',
  'overloaded_error',
  'rate_limit_error',
  'timeout_error',
]);
/** Headers the backend owns; configured headers may not set them. */
const RESERVED_HEADERS = new Set([
  'content-type',
  'content-length',
  'transfer-encoding',
  'host',
  'connection',
  'anthropic-version',
  'anthropic-beta',
]);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[^\r\n\0]*$/;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isErrorType = (t: string | undefined): t is AnthropicErrorType => t !== undefined && ERROR_TYPES.has(t);
const bounded = (s: string): string =>
  s.length > MAX_ERROR_MESSAGE_CHARS ? `${s.slice(0, MAX_ERROR_MESSAGE_CHARS)}…` : s;

/** Where `/v1/messages` lives under a base URL. */
export function messagesUrl(baseUrl: string): { origin: string; path: string } {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new RangeError('anthropic backend: baseUrl is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RangeError('anthropic backend: baseUrl must be http or https');
  }
  if (url.username !== '' || url.password !== '') {
    throw new RangeError('anthropic backend: put credentials in apiKey or headers, not in baseUrl');
  }
  if (url.search !== '' || url.hash !== '') {
    throw new RangeError('anthropic backend: baseUrl must not have a query or fragment');
  }
  const prefix = url.pathname.replace(/\/+$/, '');
  return {
    origin: url.origin,
    path: prefix.endsWith('/v1') ? `${prefix}/messages` : `${prefix}/v1/messages`,
  };
}

/**
 * The request body with `"stream":true`. Without a `stream` key the raw bytes get it spliced in before their final
 * `}`, so everything else goes out exactly as stored; with one (validation allows only `false`) the params are
 * re-serialised.
 */
export function withStream(raw: Uint8Array, params: Obj): Uint8Array {
  if (!('stream' in params)) {
    let end = raw.length - 1;
    while (end >= 0 && isJsonSpace(raw[end]!)) end--;
    if (end > 0 && raw[end] === 0x7d /* } */) {
      let before = end - 1;
      while (before >= 0 && isJsonSpace(raw[before]!)) before--;
      const insert = STREAM_MEMBER.subarray(raw[before] === 0x7b /* { */ ? 1 : 0);
      const out = new Uint8Array(raw.length + insert.length);
      out.set(raw.subarray(0, end), 0);
      out.set(insert, end);
      out.set(raw.subarray(end), end + insert.length);
      return out;
    }
  }
  return new TextEncoder().encode(JSON.stringify({ ...params, stream: true }));
}

const STREAM_MEMBER = new TextEncoder().encode(',"stream":true');
const isJsonSpace = (b: number): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** The Message's usage, when it has the two required counters. */
function usageOf(message: Obj): Usage | undefined {
  const u = message.usage;
  return isObj(u) && typeof u.input_tokens === 'number' && typeof u.output_tokens === 'number'
    ? (u as unknown as Usage)
    : undefined;
}

/** Reads a whole body, or destroys it and returns null once it passes `limit` bytes. */
function readAll(body: BodyReadable, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        body.removeAllListeners('data');
        body.destroy();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    });
    body.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    body.once('error', reject);
  });
}

/** The human part of an error body: the Anthropic envelope's message, or what other servers put there. */
function errorMessageOf(body: unknown): string | undefined {
  if (!isObj(body)) return undefined;
  const candidate = [isObj(body.error) ? body.error.message : body.error, body.message, body.detail].find(
    (v): v is string => typeof v === 'string' && v !== '',
  );
  return candidate === undefined ? undefined : bounded(candidate);
}

function parseJson(bytes: Buffer | null): unknown {
  return bytes === null ? undefined : parseJsonText(bytes.toString('utf8'));
}

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** An answer's body: a stream (streamed calls) or the bytes collected by `exchange` (null when too large). */
type AnswerBody = { stream: BodyReadable } | { bytes: Buffer | null };

/** The body, if it fits in `limit` bytes. */
function readBody(body: AnswerBody, limit: number): Promise<Buffer | null> {
  if ('stream' in body) return readAll(body.stream, limit);
  return Promise.resolve(body.bytes !== null && body.bytes.length <= limit ? body.bytes : null);
}

function upstreamReport(status: number, headers: HeaderBag, started: number, usage?: Usage): UpstreamReport {
  const r: UpstreamReport = { status, headers, latencyMs: performance.now() - started };
  if (usage !== undefined) r.usage = usage;
  return r;
}

/** What a collected exchange gives back: the status, the headers and the whole body (null when too large). */
interface Exchanged {
  status: number;
  headers: HeaderBag;
  bytes: Buffer | null;
}

/**
 * Collects one answer for `exchange`. A class rather than closures: the per-call closures cost measurable CPU at
 * thousands of calls per second (tsx keeps function names by wrapping every closure it creates). It is also the
 * signal's listener (`handleEvent`), so an abort reaches the request wherever it is.
 */
class CollectHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private status = 0;
  private headers: HeaderBag = {};
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private tooLarge = false;

  constructor(
    private readonly signal: CallSignal,
    private readonly resolve: (r: Exchanged) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    signal.addEventListener('abort', this, { once: true });
  }

  handleEvent(): void {
    const reason = this.signal.reason;
    this.controller?.abort(reason instanceof Error ? reason : new Error('aborted'));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.signal.aborted) this.handleEvent();
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: Record<string, unknown>): void {
    this.status = status;
    this.headers = headers as HeaderBag;
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.tooLarge) return;
    this.size += chunk.length;
    if (this.size > MAX_MESSAGE_BYTES) {
      this.tooLarge = true;
      this.chunks.length = 0;
      c.abort(new Error('answer too large'));
      return;
    }
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    this.signal.removeEventListener('abort', this);
    const c = this.chunks;
    this.resolve({
      status: this.status,
      headers: this.headers,
      bytes: c.length === 1 ? c[0]! : Buffer.concat(c, this.size),
    });
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.signal.removeEventListener('abort', this);
    if (this.tooLarge) this.resolve({ status: this.status, headers: this.headers, bytes: null });
    else this.reject(this.signal.aborted ? this.signal.reason : err);
  }
}

/**
 * The backend for `/v1/messages` upstreams. It forwards the stored params bytes unchanged over one keep-alive undici
 * pool, streams long generations and folds the stream back into a Message, and classifies every failure for retry.
 */
export class AnthropicBackend implements ModelBackend {
  readonly name: string;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly baseHeaders: Record<string, string>;
  private readonly attemptTimeoutMs: number;
  private readonly streamAbove: number;
  private lastHeaders: { version: string; beta: string | null; headers: Record<string, string> } | null =
    null;

  constructor(opts: AnthropicBackendOptions) {
    if (!Number.isInteger(opts.maxConnections) || opts.maxConnections < 1) {
      throw new RangeError(
        `anthropic backend: maxConnections must be a positive integer, got ${opts.maxConnections}`,
      );
    }
    // setTimeout turns anything above 2^31-1 ms into 1 ms.
    if (!(opts.attemptTimeoutMs > 0 && opts.attemptTimeoutMs <= 2_147_483_647)) {
      throw new RangeError(
        `anthropic backend: attemptTimeoutMs must be in 1..2147483647, got ${opts.attemptTimeoutMs}`,
      );
    }
    if (!(opts.streamAboveMaxTokens >= 0)) {
      throw new RangeError(
        `anthropic backend: streamAboveMaxTokens must be >= 0, got ${opts.streamAboveMaxTokens}`,
      );
    }
    const { origin, path } = messagesUrl(opts.baseUrl);
    this.name = opts.name;
    this.path = path;
    this.attemptTimeoutMs = opts.attemptTimeoutMs;
    this.streamAbove = opts.streamAboveMaxTokens;
    this.baseHeaders = {};
    for (const [rawName, value] of Object.entries(opts.headers ?? {})) {
      const name = rawName.toLowerCase();
      if (!HEADER_NAME.test(name) || RESERVED_HEADERS.has(name)) {
        throw new RangeError(`anthropic backend: header "${rawName.slice(0, 60)}" cannot be configured`);
      }
      if (!HEADER_VALUE.test(value)) {
        throw new RangeError(`anthropic backend: header "${rawName.slice(0, 60)}" has an invalid value`);
      }
      this.baseHeaders[name] = value;
    }
    if (opts.apiKey !== undefined) {
      if (!HEADER_VALUE.test(opts.apiKey))
        throw new RangeError('anthropic backend: apiKey has an invalid value');
      this.baseHeaders['x-api-key'] = opts.apiKey;
    }
    this.baseHeaders['content-type'] = 'application/json';
    this.pool = new Pool(origin, {
      connections: opts.maxConnections,
      // The attempt deadline is the only clock: undici's 300 s defaults would cut long non-streamed generations.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  async send(req: BackendRequest): Promise<BackendOutcome> {
    req.signal.throwIfAborted();
    const started = performance.now();
    const attempt = attemptSignal(req, this.attemptTimeoutMs);
    try {
      return await this.call(req, attempt.signal, started);
    } catch (err) {
      const timedOut = attempt.timedOut();
      if (req.signal.aborted && !timedOut) throw req.signal.reason;
      const latencyMs = performance.now() - started;
      if (timedOut) {
        return {
          type: 'errored',
          error: {
            type: 'timeout_error',
            message: `Upstream ${this.name} did not answer within ${this.attemptTimeoutMs} ms`,
          },
          retryable: true,
          upstream: { status: 'timeout', latencyMs },
        };
      }
      const code = isObj(err) && typeof err.code === 'string' ? ` (${err.code.slice(0, 40)})` : '';
      return {
        type: 'errored',
        // The code only: a message could carry the upstream's address.
        error: { type: 'api_error', message: `Upstream ${this.name}: connection failed${code}` },
        retryable: true,
        upstream: { status: 'network', latencyMs },
      };
    } finally {
      attempt.done();
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /**
   * The headers of a call. Consecutive calls nearly always come from the same batch, so the last set is reused
   * while the version and betas match (undici copies them and never changes the object).
   */
  private headersFor(req: BackendRequest): Record<string, string> {
    const beta = req.betas.length > 0 ? req.betas.join(',') : null;
    const last = this.lastHeaders;
    if (last && last.version === req.apiVersion && last.beta === beta) return last.headers;
    const h: Record<string, string> = { ...this.baseHeaders, 'anthropic-version': req.apiVersion };
    if (beta !== null) h['anthropic-beta'] = beta;
    this.lastHeaders = { version: req.apiVersion, beta, headers: h };
    return h;
  }

  private async call(req: BackendRequest, signal: CallSignal, started: number): Promise<BackendOutcome> {
    const maxTokens = req.params.max_tokens;
    const stream = typeof maxTokens === 'number' && maxTokens > this.streamAbove;
    const opts = {
      path: this.path,
      method: 'POST' as const,
      headers: this.headersFor(req),
      body: stream ? withStream(req.rawParams, req.params) : req.rawParams,
    };
    // Streamed generations are read as a stream; everything else is collected by a plain dispatch handler, which
    // measured ~10 µs of CPU less per call than `request()` and its body stream (81-84 against 91-95 µs).
    let status: number;
    let headers: HeaderBag;
    let body: AnswerBody;
    if (stream) {
      const res = await this.pool.request({ ...opts, signal: undiciSignal(signal) });
      status = res.statusCode;
      headers = res.headers as HeaderBag;
      body = { stream: res.body };
    } else {
      const r = await this.exchange(opts, signal);
      status = r.status;
      headers = r.headers;
      body = { bytes: r.bytes };
    }

    if (status < 200 || status >= 300) {
      const parsed = parseJson(await readBody(body, MAX_ERROR_BODY_BYTES));
      const envelope = envelopeError(parsed);
      const shouldRetry = header(headers, 'x-should-retry');
      const outcome: BackendOutcome = {
        type: 'errored',
        error: {
          type: isErrorType(envelope?.type) ? envelope.type : errorTypeForStatus(status),
          message: errorMessageOf(parsed) ?? `Upstream ${this.name} returned HTTP ${status}`,
        },
        // The SDKs let the server overrule the status-based decision.
        retryable:
          shouldRetry === 'true' ? true : shouldRetry === 'false' ? false : isRetryableStatus(status),
        upstream: upstreamReport(status, headers, started),
      };
      const wait = retryAfterMs(headers, Date.now());
      if (wait !== undefined) outcome.retryAfterMs = wait;
      return outcome;
    }

    if (header(headers, 'content-type')?.startsWith('text/event-stream')) {
      const report = (usage?: Usage) => upstreamReport(status, headers, started, usage);
      if ('stream' in body) return this.fromStream(body.stream, report);
      if (body.bytes === null) return this.tooLarge(report());
      return this.fromStream([body.bytes], report);
    }
    const bytes = await readBody(body, MAX_MESSAGE_BYTES);
    if (bytes === null) return this.tooLarge(upstreamReport(status, headers, started));
    const text = bytes.toString('utf8');
    const message = parseJsonText(text);
    if (!isObj(message) || message.type !== 'message') {
      return this.notAMessage(upstreamReport(status, headers, started));
    }
    const out: BackendOutcome = {
      type: 'succeeded',
      message,
      upstream: upstreamReport(status, headers, started, usageOf(message)),
    };
    // Valid JSON on one line can go into the result line as it is (a line break would split the JSONL record).
    if (text.indexOf('\n') < 0 && text.indexOf('\r') < 0) out.raw = text.trim();
    return out;
  }

  /**
   * One request whose whole answer is collected in memory (at most MAX_MESSAGE_BYTES; `bytes` is null beyond that),
   * through undici's handler interface. The signal aborts it at any point, as `request()`'s does.
   */
  private exchange(
    opts: { path: string; method: 'POST'; headers: Record<string, string>; body: Uint8Array },
    signal: CallSignal,
  ): Promise<Exchanged> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) reject(signal.reason);
      else this.pool.dispatch(opts, new CollectHandler(signal, resolve, reject));
    });
  }

  private async fromStream(
    body: AsyncIterable<Buffer> | Iterable<Buffer>,
    report: (usage?: Usage) => UpstreamReport,
  ): Promise<BackendOutcome> {
    const parser = new SseParser();
    const acc = new MessageAccumulator();
    let size = 0;
    try {
      for await (const chunk of body) {
        size += chunk.length;
        if (size > MAX_MESSAGE_BYTES) return this.tooLarge(report());
        for (const event of parser.push(chunk)) acc.push(event);
        // Leaving the loop closes the connection, so a server that lingers after message_stop cannot stall us.
        if (acc.done) break;
      }
      if (!acc.done) for (const event of parser.end()) acc.push(event);
    } catch (err) {
      // Parse failures are the upstream's fault and worth another try; read failures go to send()'s handling.
      if (err instanceof StreamProtocolError || err instanceof SseTooLargeError) {
        return this.notAMessage(report());
      }
      throw err;
    }
    const result = acc.result();
    if (result.type === 'message') {
      return { type: 'succeeded', message: result.message, upstream: report(usageOf(result.message)) };
    }
    if (result.type === 'error') {
      const type = isErrorType(result.error.type) ? result.error.type : 'api_error';
      return {
        type: 'errored',
        error: { type, message: result.error.message || `Upstream ${this.name} stream error` },
        retryable: RETRYABLE_TYPES.has(type),
        upstream: report(),
      };
    }
    // Ended before message_stop: a dropped connection, whatever the transport said.
    return {
      type: 'errored',
      error: { type: 'api_error', message: `Upstream ${this.name}: stream ended before message_stop` },
      retryable: true,
      upstream: { ...report(), status: 'network' },
    };
  }

  private notAMessage(upstream: UpstreamReport): BackendOutcome {
    return {
      type: 'errored',
      error: { type: 'api_error', message: `Upstream ${this.name} answered without a valid Message` },
      retryable: true,
      upstream,
    };
  }

  private tooLarge(upstream: UpstreamReport): BackendOutcome {
    return {
      type: 'errored',
      error: {
        type: 'api_error',
        message: `Upstream ${this.name} answer exceeds ${MAX_MESSAGE_BYTES} bytes`,
      },
      retryable: false,
      upstream,
    };
  }
}
