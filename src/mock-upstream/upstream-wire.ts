// The two faces of the mock upstream: the hosted Anthropic Messages API and an OpenAI-compatible chat server.
// Everything the server does differently per protocol (path, request checks, body shapes, headers) is here.
import type { IncomingMessage } from 'node:http';
import { type MockSeed, seedFromBytes, seedFromText } from '../backends/mock/seed.ts';
import { type AnthropicErrorType, errorEnvelope } from '../wire/error-envelope.ts';
import { isJsonObject as isObj, type JsonObject } from '../wire/json-object.ts';
import type { MockUpstreamOptions } from './mock-upstream-options.ts';
import {
  chatCompletion,
  chatRequestToParams,
  OPENAI_CHAT_PATH,
  openAiErrorBody,
  openAiRateLimitHeaders,
} from './openai-shim.ts';
import { anthropicRateLimitHeaders, type RateBudget } from './rate-budget.ts';

type Obj = JsonObject;

/** The errors the mock answers with, before each protocol gives them its status and body. */
export type ErrorKind =
  | 'invalid'
  | 'auth'
  | 'not_found'
  | 'too_large'
  | 'rate_limit'
  | 'overloaded'
  | 'api_error';

/** A request the mock model can answer: its params and the seed of its answer. */
type Prepared = { ok: true; params: Obj; seed: MockSeed; stream: boolean } | { ok: false; message: string };

/** What differs between the two faces of the mock: paths, validation, body shapes and headers. */
export interface Wire {
  path: string;
  requestIdHeader: string;
  /** A header problem (the hosted API's required `anthropic-version`), checked after auth. */
  headerProblem(req: IncomingMessage): string | null;
  prepare(body: Buffer, parsed: unknown): Prepared;
  errorStatus(kind: ErrorKind): number;
  errorBody(kind: ErrorKind, message: string, requestId: string, rateLimitType?: string): unknown;
  success(message: Obj, now: number): string;
  rateLimitHeaders(budget: RateBudget, now: number): Record<string, string>;
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

export function wireFor(protocol: MockUpstreamOptions['protocol']): Wire {
  return protocol === 'openai' ? openAiWire : anthropicWire;
}
