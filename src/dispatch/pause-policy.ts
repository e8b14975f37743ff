import type { RateLimitReadings } from './rate-limit-headers.ts';

const BACKOFF_BASE_MS = 1000;
const BACKOFF_CAP_MS = 60_000;

/**
 * The latest reset among the budgets a response reports as exhausted (remaining 0), when it is in the future:
 * retrying earlier would only be refused again (anthropic-sdk-typescript issue #357 asks for exactly this).
 */
export function exhaustedResetAt(readings: RateLimitReadings, now: number): number | undefined {
  let latest: number | undefined;
  for (const r of Object.values(readings)) {
    if (r?.remaining === 0 && r.resetAt !== undefined && r.resetAt > now)
      latest = Math.max(latest ?? 0, r.resetAt);
  }
  return latest;
}

/** 1 s, 2 s, 4 s ... capped at 60 s, with up to 25% taken off at random (as the official SDKs do). */
export function backoffMs(attempt: number, random: () => number): number {
  const base = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
  return base * (1 - 0.25 * random());
}
