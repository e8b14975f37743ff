// `barge mock-upstream`: the built-in mock model behind a real HTTP port, imitating the hosted Anthropic API
// (`POST /v1/messages`) or an OpenAI-compatible server (`POST /v1/chat/completions`). It is the upstream of the
// end-to-end tests and the benchmark, so it uses node:http directly, answers without a timer when latency is 0,
// and counts what it saw (in flight, per status, per fault, per body) for tests to assert on.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mockMessage } from '../backends/mock/mock-message.ts';
import { systemClock } from '../domain/clock.ts';
import { randomId } from '../domain/ids.ts';
import type { JsonObject } from '../wire/json-object.ts';
import { apiKeyCheck } from './api-key-check.ts';
import { upstreamDraws } from './fault-draw.ts';
import { messageEventStream } from './message-event-stream.ts';
import { type MockUpstreamOptions, validateMockUpstreamOptions } from './mock-upstream-options.ts';
import { RateBudget } from './rate-budget.ts';
import { bodyHash, type MockUpstreamStats, StatsBook } from './upstream-stats.ts';
import { type ErrorKind, wireFor } from './upstream-wire.ts';

// The server's public surface, wherever each piece now lives: importers need only this module.
export { messageEventStream } from './message-event-stream.ts';
export type { MockUpstreamOptions } from './mock-upstream-options.ts';
export { bodyHash, type MockUpstreamFaultCounts, type MockUpstreamStats } from './upstream-stats.ts';

type Obj = JsonObject;

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

/** The largest `max_tokens` the mock model accepts, like a real model's output limit. */
export const MAX_OUTPUT_TOKENS = 128_000;

const MAX_BODY_BYTES = 32 * 1024 * 1024; // the hosted Messages API's limit

/** `req_…` ids: a random prefix per server plus a counter (fresh randomness per request showed up in profiles). */
function requestIdSource(): () => string {
  const prefix = randomId('req').slice(0, 18);
  let n = 0;
  return () => prefix + (n++).toString(36).padStart(10, '0');
}

/**
 * `retry-after` is whole seconds on the wire; a fractional wait is also sent as `retry-after-ms`, which the
 * official SDKs (and Barge) read first, so load tests can use short pauses.
 */
function retryAfterHeaders(seconds: number): Record<string, string> {
  return Number.isInteger(seconds)
    ? { 'retry-after': String(seconds) }
    : {
        'retry-after': String(Math.ceil(seconds)),
        'retry-after-ms': String(Math.round(seconds * 1000)),
      };
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
export async function startMockUpstream(o: MockUpstreamOptions): Promise<MockUpstream> {
  validateMockUpstreamOptions(o);
  const injectedRetryAfter = retryAfterHeaders(o.retryAfterSeconds);
  const clock = o.clock ?? systemClock;
  const wire = wireFor(o.protocol);
  const budget = new RateBudget(o.budget, clock.now());
  const draws = upstreamDraws(o);
  const authorized = apiKeyCheck(o.requireApiKey);
  const book = new StatsBook();
  const timers = new Set<NodeJS.Timeout>();
  const nextRequestId = requestIdSource();

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
    switch (draws.fault()) {
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

    const ms = draws.latencyMs();
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
