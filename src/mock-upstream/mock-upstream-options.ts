// What `startMockUpstream` takes, and the checks it runs on it before listening.
import type { Clock } from '../domain/clock.ts';

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

/** Throws a RangeError naming the first option out of range. */
export function validateMockUpstreamOptions(o: MockUpstreamOptions): void {
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
