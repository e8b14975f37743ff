import type { BackendOutcome } from '../backends/model-backend.ts';

type Errored = Extract<BackendOutcome, { type: 'errored' }>;

/** What happens to a request after a failed attempt. */
export type RetryDecision =
  | { kind: 'final'; message: string }
  | { kind: 'retry'; runAt: number; countAttempt: boolean };

export interface RetryContext {
  attempt: number;
  maxAttempts: number;
  now: number;
  /** When the request's lane reopens after a 429 pause (0 when it is open). */
  laneReopensAt: number;
  random: () => number;
}

const BASE_MS = 1000;
const CAP_MS = 60_000;

/** Whether an outcome is the upstream's rate limit (a 429), which never uses up an attempt. */
export function isRateLimited(outcome: Errored): boolean {
  return outcome.upstream?.status === 429 || outcome.error.type === 'rate_limit_error';
}

/**
 * Retry classification (architecture §1.8): final errors end the request at once; transient ones are requeued with
 * full-jitter exponential backoff (never earlier than the upstream's own `retry-after`) until the attempts run out;
 * a 429 waits for its lane to reopen and gives its attempt back, so only batch expiry ends a rate-limited request.
 */
export function decideRetry(outcome: Errored, c: RetryContext): RetryDecision {
  if (!outcome.retryable) return { kind: 'final', message: outcome.error.message };
  const backoff = Math.floor(c.random() * Math.min(CAP_MS, BASE_MS * 2 ** Math.max(0, c.attempt - 1)));
  if (isRateLimited(outcome)) {
    const wait = outcome.retryAfterMs ?? backoff;
    return { kind: 'retry', runAt: Math.max(c.now + wait, c.laneReopensAt), countAttempt: false };
  }
  if (c.attempt >= c.maxAttempts) {
    const tries = c.attempt === 1 ? '1 attempt' : `${c.attempt} attempts`;
    return { kind: 'final', message: `${outcome.error.message} (gave up after ${tries})` };
  }
  return { kind: 'retry', runAt: c.now + Math.max(outcome.retryAfterMs ?? 0, backoff), countAttempt: true };
}
