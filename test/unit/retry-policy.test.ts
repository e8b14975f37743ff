import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BackendOutcome } from '../../src/backends/model-backend.ts';
import { decideRetry } from '../../src/worker/retry-policy.ts';

type Errored = Extract<BackendOutcome, { type: 'errored' }>;
const NOW = 1_000_000;

function errored(status: number, type: Errored['error']['type'], extra: Partial<Errored> = {}): Errored {
  return {
    type: 'errored',
    error: { type, message: `upstream said ${status}` },
    retryable: status === 429 || status >= 500,
    upstream: { status, latencyMs: 1 },
    ...extra,
  };
}

const ctx = (attempt: number, over: Partial<Parameters<typeof decideRetry>[1]> = {}) => ({
  attempt,
  maxAttempts: 3,
  now: NOW,
  laneReopensAt: 0,
  random: () => 0.5,
  ...over,
});

describe('retry policy', () => {
  test('final upstream errors end the request with the upstream message', () => {
    for (const [status, type] of [
      [400, 'invalid_request_error'],
      [401, 'authentication_error'],
      [403, 'permission_error'],
      [404, 'not_found_error'],
      [413, 'request_too_large'],
    ] as const) {
      assert.deepEqual(decideRetry(errored(status, type), ctx(1)), {
        kind: 'final',
        message: `upstream said ${status}`,
      });
    }
  });

  test('transient errors back off exponentially with jitter, honouring retry-after, until attempts run out', () => {
    const e = errored(500, 'api_error');
    assert.deepEqual(decideRetry(e, ctx(1)), { kind: 'retry', runAt: NOW + 500, countAttempt: true });
    assert.deepEqual(decideRetry(e, ctx(2)), { kind: 'retry', runAt: NOW + 1000, countAttempt: true });
    assert.deepEqual(decideRetry(e, ctx(2, { random: () => 0 })), {
      kind: 'retry',
      runAt: NOW,
      countAttempt: true,
    });
    assert.deepEqual(decideRetry({ ...e, retryAfterMs: 7000 }, ctx(1)), {
      kind: 'retry',
      runAt: NOW + 7000,
      countAttempt: true,
    });
    assert.equal(decideRetry(e, ctx(30, { maxAttempts: 50 })).kind, 'retry');
    const capped = decideRetry(e, ctx(30, { maxAttempts: 50, random: () => 0.999 }));
    assert.ok(capped.kind === 'retry' && capped.runAt - NOW <= 60_000, 'backoff is capped at a minute');
    assert.deepEqual(decideRetry(e, ctx(3)), {
      kind: 'final',
      message: 'upstream said 500 (gave up after 3 attempts)',
    });
  });

  test('a 429 never uses up an attempt and waits for retry-after or the lane to reopen', () => {
    const e = errored(429, 'rate_limit_error', { retryAfterMs: 2000 });
    assert.deepEqual(decideRetry(e, ctx(3)), { kind: 'retry', runAt: NOW + 2000, countAttempt: false });
    assert.deepEqual(decideRetry(e, ctx(9, { laneReopensAt: NOW + 5000 })), {
      kind: 'retry',
      runAt: NOW + 5000,
      countAttempt: false,
    });
  });

  test('x-should-retry: false (retryable false) makes even a 500 final', () => {
    const e = { ...errored(500, 'api_error'), retryable: false };
    assert.equal(decideRetry(e, ctx(1)).kind, 'final');
  });
});
