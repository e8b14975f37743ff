// The mock upstream's per-minute rate limits: continuously refilled token buckets for requests, input tokens and
// output tokens, as the hosted API models them, and the `anthropic-ratelimit-*` headers that report them.
import type { MockUpstreamOptions } from './mock-upstream-options.ts';

const MINUTE_MS = 60_000;

/** One rate-limit dimension right now: its per-minute limit, what is left, and ms until it is full again. */
export interface LimitSnapshot {
  limit: number;
  remaining: number;
  resetMs: number;
}

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

/** Why a request was refused: the shortest bucket and how long until it would fit. */
export type BudgetRefusal = {
  dimension: 'requests' | 'input tokens' | 'output tokens';
  limit: number;
  waitMs: number;
};

export class RateBudget {
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
  admit(inputTokens: number, outputTokens: number, now: number): BudgetRefusal | null {
    let worst: BudgetRefusal | null = null;
    const check = (bucket: Bucket | undefined, need: number, dimension: BudgetRefusal['dimension']): void => {
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

/** `anthropic-ratelimit-{requests,input-tokens,output-tokens,tokens}-{limit,remaining,reset}`, as budgeted. */
export function anthropicRateLimitHeaders(budget: RateBudget, now: number): Record<string, string> {
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
