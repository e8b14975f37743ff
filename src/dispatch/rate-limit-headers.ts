import type { HeaderBag } from '../backends/model-backend.ts';
import { header } from '../backends/upstream-errors.ts';

/** One upstream budget as a response described it. Fields the response did not carry (or garbled) are absent. */
export interface BudgetReading {
  limit?: number;
  remaining?: number;
  /** Epoch ms at which the upstream says the budget is full again. */
  resetAt?: number;
}

/** The budgets found in one response; `tokens` is a combined input + output budget. */
export interface RateLimitReadings {
  requests?: BudgetReading;
  inputTokens?: BudgetReading;
  outputTokens?: BudgetReading;
  tokens?: BudgetReading;
}

// Header values are bounded before parsing: anything longer is not a number or a timestamp.
const MAX_VALUE_CHARS = 64;

const ANTHROPIC_DIMENSIONS = {
  requests: 'requests',
  inputTokens: 'input-tokens',
  outputTokens: 'output-tokens',
  tokens: 'tokens',
} as const;

const OPENAI_DIMENSIONS = { requests: 'requests', tokens: 'tokens' } as const;

/**
 * Reads both header families: Anthropic's `anthropic-ratelimit-{dimension}-{limit,remaining,reset}` (reset in
 * RFC 3339) and OpenAI's `x-ratelimit-{limit,remaining,reset}-{dimension}` (reset as a Go duration). Negative or
 * unparsable values are ignored (Azure sends -1 placeholders); Anthropic's value wins when both families are sent.
 */
export function parseRateLimitHeaders(headers: HeaderBag, now: number): RateLimitReadings {
  const out: RateLimitReadings = {};
  // Local servers send none of these: one pass over the names spares two dozen lookups per response.
  if (!hasRateLimitHeader(headers)) return out;
  for (const [key, dim] of Object.entries(ANTHROPIC_DIMENSIONS) as [keyof RateLimitReadings, string][]) {
    const r = reading(headers, now, (field) => `anthropic-ratelimit-${dim}-${field}`);
    if (r) out[key] = r;
  }
  for (const [key, dim] of Object.entries(OPENAI_DIMENSIONS) as [keyof RateLimitReadings, string][]) {
    const r = reading(headers, now, (field) => `x-ratelimit-${field}-${dim}`);
    if (r) out[key] = { ...r, ...out[key] };
  }
  return out;
}

function hasRateLimitHeader(headers: HeaderBag): boolean {
  for (const name in headers) {
    if (name.startsWith('anthropic-ratelimit-') || name.startsWith('x-ratelimit-')) return true;
  }
  return false;
}

function reading(
  headers: HeaderBag,
  now: number,
  name: (field: 'limit' | 'remaining' | 'reset') => string,
): BudgetReading | undefined {
  const r: BudgetReading = {};
  const limit = parseCount(header(headers, name('limit')));
  const remaining = parseCount(header(headers, name('remaining')));
  const resetAt = parseResetAt(header(headers, name('reset')), now);
  // A limit of 0 is a placeholder too: no upstream advertises a budget that never refills.
  if (limit !== undefined && limit > 0) r.limit = limit;
  if (remaining !== undefined) r.remaining = remaining;
  if (resetAt !== undefined) r.resetAt = resetAt;
  return Object.keys(r).length > 0 ? r : undefined;
}

/** A non-negative finite number, or undefined. */
export function parseCount(value: string | undefined): number | undefined {
  if (value === undefined || value === '' || value.length > MAX_VALUE_CHARS) return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/**
 * A reset time as epoch ms: an RFC 3339 timestamp (Anthropic), or a delay from `now` as a Go duration (OpenAI).
 * A bare number is taken as seconds, or as epoch seconds when it is that large, as some gateways send.
 */
export function parseResetAt(value: string | undefined, now: number): number | undefined {
  if (value === undefined || value === '' || value.length > MAX_VALUE_CHARS) return undefined;
  const at = parseRfc3339(value);
  if (at !== undefined) return at;
  if (/^\d+(\.\d+)?$/.test(value)) {
    const secs = Number(value);
    return secs >= 1e9 ? secs * 1000 : now + secs * 1000;
  }
  const ms = parseGoDuration(value);
  return ms === undefined ? undefined : now + ms;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** Epoch ms of an RFC 3339 date-time, or undefined. */
export function parseRfc3339(value: string): number | undefined {
  if (!RFC3339.test(value)) return undefined;
  const at = Date.parse(value.replace(/^(.{10})[t ]/, '$1T').replace(/z$/, 'Z'));
  return Number.isNaN(at) ? undefined : at;
}

const GO_UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5, which Go prints
  μs: 1e-3, // U+03BC, which Go also accepts
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const GO_TERM = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;

/**
 * Milliseconds of a Go `time.Duration` string (`12ms`, `1s`, `6m0s`, `1m30.5s`, `1h2m3.5s`, `0`), as OpenAI
 * sends in `x-ratelimit-reset-*`. Undefined when unparsable or negative.
 */
export function parseGoDuration(value: string): number | undefined {
  let s = value.trim();
  if (s.startsWith('+')) s = s.slice(1);
  if (s === '0') return 0;
  if (s === '' || s.length > MAX_VALUE_CHARS) return undefined;
  let total = 0;
  while (s !== '') {
    const m = GO_TERM.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * GO_UNIT_MS[m[2]!]!;
    s = s.slice(m[0].length);
  }
  return Number.isFinite(total) ? total : undefined;
}
