import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Prng } from '../../src/backends/mock/prng.ts';
import type { HeaderBag, Usage } from '../../src/backends/model-backend.ts';
import {
  type AcquireRequest,
  LaneLimiter,
  type LaneLimits,
  type LaneOutcome,
  type OutcomeKind,
  type Permit,
} from '../../src/dispatch/lane-limiter.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

/** A seeded random for jitter (the mock model's PRNG), so every run draws the same numbers. */
function seeded(seed: number): () => number {
  const rng = new Prng({ hi: seed, lo: 0 });
  return () => rng.float();
}

function setup(limits: Partial<LaneLimits> = {}, seed = 1): { clock: ManualClock; lane: LaneLimiter } {
  const clock = new ManualClock();
  const lane = new LaneLimiter({
    lane: 'anthropic/claude-test',
    limits: { maxConcurrency: 10, ...limits },
    clock,
    random: seeded(seed),
  });
  return { clock, lane };
}

const REQ: AcquireRequest = { inputTokens: 100, maxOutputTokens: 100 };

function outcome(kind: OutcomeKind, extra: Partial<LaneOutcome> = {}): LaneOutcome {
  return { kind, latencyMs: 100, ...extra };
}

function acquire(lane: LaneLimiter, req: AcquireRequest = REQ): Permit {
  const p = lane.tryAcquire(req);
  assert.ok(p, 'expected a permit');
  return p;
}

/** Acquires until refused, then releases them all with `kind`: one full window. */
function fillAndRelease(
  lane: LaneLimiter,
  kind: OutcomeKind = 'success',
  extra: Partial<LaneOutcome> = {},
): number {
  const permits: Permit[] = [];
  for (let p = lane.tryAcquire(REQ); p; p = lane.tryAcquire(REQ)) permits.push(p);
  for (const p of permits) p.release(outcome(kind, extra));
  return permits.length;
}

const iso = (ms: number): string => new Date(ms).toISOString();

describe('LaneLimiter: configured requests per minute', () => {
  it('never exceeds 600 in any one-minute window, and still achieves about 600 a minute', () => {
    const { clock, lane } = setup({ maxConcurrency: 32, requestsPerMinute: 600 });
    const random = seeded(42);
    const start = clock.now();
    const end = start + 5 * 60_000;
    const grants: number[] = [];
    const inFlight: { permit: Permit; doneAt: number; latency: number }[] = [];
    while (clock.now() < end) {
      const now = clock.now();
      for (let i = inFlight.length - 1; i >= 0; i--) {
        const f = inFlight[i]!;
        if (f.doneAt <= now) {
          f.permit.release(outcome('success', { latencyMs: f.latency }));
          inFlight.splice(i, 1);
        }
      }
      for (let p = lane.tryAcquire(REQ); p; p = lane.tryAcquire(REQ)) {
        const latency = 50 + Math.floor(random() * 400);
        grants.push(now);
        inFlight.push({ permit: p, doneAt: now + latency, latency });
      }
      // Wake at the next completion, at readyAt, or after a small random step, whichever is first.
      let next = now + 1 + Math.floor(random() * 50);
      for (const f of inFlight) next = Math.min(next, f.doneAt);
      const ready = lane.readyAt(REQ);
      if (ready !== null) next = Math.min(next, ready);
      clock.set(Math.max(next, now + 1));
    }
    // Any half-open minute holds at most 600 grants iff grant i and grant i+600 are at least a minute apart.
    for (let i = 0; i + 600 < grants.length; i++) {
      assert.ok(grants[i + 600]! - grants[i]! >= 60_000, `window starting at grant ${i} holds more than 600`);
    }
    // The cap is actually reached (not merely never approached) ...
    let reached = false;
    for (let i = 0; i + 599 < grants.length; i++) if (grants[i + 599]! - grants[i]! < 60_000) reached = true;
    assert.ok(reached, 'some minute should hold exactly 600 grants');
    // ... and the lane is not starved: about 600 a minute over five minutes.
    assert.ok(grants.length >= 2900 && grants.length <= 3000, `granted ${grants.length} in 5 minutes`);
  });

  it('readyAt names the instant the oldest grant of the minute leaves the window', () => {
    const { clock, lane } = setup({ requestsPerMinute: 2 });
    const t0 = clock.now();
    acquire(lane).release(outcome('success'));
    clock.advance(10_000);
    acquire(lane).release(outcome('success'));
    assert.equal(lane.tryAcquire(REQ), null);
    assert.equal(lane.readyAt(REQ), t0 + 60_000);
    clock.set(t0 + 59_999);
    assert.equal(lane.tryAcquire(REQ), null);
    clock.set(t0 + 60_000);
    assert.ok(lane.tryAcquire(REQ));
    assert.equal(lane.readyAt(REQ), t0 + 70_000);
  });
});

describe('LaneLimiter: pauses', () => {
  it('a 429 with retryAfterMs 2000 pauses the lane for exactly 2 s', () => {
    const { clock, lane } = setup();
    const t0 = clock.now();
    acquire(lane).release(outcome('rate_limited', { retryAfterMs: 2000 }));
    assert.equal(lane.tryAcquire(REQ), null);
    assert.equal(lane.readyAt(REQ), t0 + 2000);
    assert.equal(lane.pausedUntil, t0 + 2000);
    assert.equal(lane.hasBudget(), false);
    clock.advance(1999);
    assert.equal(lane.tryAcquire(REQ), null);
    clock.advance(1);
    assert.equal(lane.pausedUntil, 0);
    assert.ok(lane.tryAcquire(REQ));
    const snap = lane.snapshot();
    assert.equal(snap.pausedMsTotal, 2000);
    assert.equal(snap.pausedUntil, null);
    assert.equal(snap.pauseReason, null);
  });

  it('a 429 without retry-after waits for the latest reset among the exhausted budgets', () => {
    const { clock, lane } = setup();
    const t0 = clock.now();
    const headers: HeaderBag = {
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '0',
      'anthropic-ratelimit-requests-reset': iso(t0 + 5000),
      'anthropic-ratelimit-input-tokens-limit': '80000',
      'anthropic-ratelimit-input-tokens-remaining': '0',
      'anthropic-ratelimit-input-tokens-reset': iso(t0 + 7000),
      // Not exhausted, so its later reset does not count.
      'anthropic-ratelimit-output-tokens-limit': '16000',
      'anthropic-ratelimit-output-tokens-remaining': '15000',
      'anthropic-ratelimit-output-tokens-reset': iso(t0 + 30_000),
    };
    acquire(lane).release(outcome('rate_limited', { headers }));
    assert.equal(lane.pausedUntil, t0 + 7000);
    assert.equal(lane.snapshot().pauseReason, 'retry-after');
    assert.equal(lane.readyAt(REQ), t0 + 7000);
    clock.set(t0 + 6999);
    assert.equal(lane.tryAcquire(REQ), null);
    clock.set(t0 + 7000);
    assert.ok(lane.tryAcquire(REQ));
  });

  it('a 429 with nothing to go on backs off exponentially with jitter, reset by a success', () => {
    const { clock, lane } = setup({ maxConcurrency: 1 });
    const pauses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const t = clock.now();
      acquire(lane).release(outcome('rate_limited'));
      pauses.push(lane.pausedUntil - t);
      clock.set(lane.pausedUntil);
    }
    const bases = [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000];
    pauses.forEach((p, i) => {
      assert.ok(p > bases[i]! * 0.75 - 1 && p <= bases[i]!, `pause ${i} = ${p}, base ${bases[i]}`);
    });
    assert.equal(new Set(pauses.map((p, i) => p / bases[i]!)).size > 1, true, 'jitter varies');
    acquire(lane).release(outcome('success'));
    const t = clock.now();
    acquire(lane).release(outcome('rate_limited'));
    assert.ok(lane.pausedUntil - t <= 1000);
  });

  it('a 529 shrinks the window without pausing the lane, unless it carries a wait hint', () => {
    const { clock, lane } = setup();
    const t = clock.now();
    const before = lane.limit;
    acquire(lane).release(outcome('overloaded'));
    assert.equal(lane.pausedUntil, 0);
    assert.ok(lane.limit < before || before === 1, `limit ${before} -> ${lane.limit}`);
    assert.ok(lane.tryAcquire({ inputTokens: 1, maxOutputTokens: 1 }) !== null);
    acquire(lane).release(outcome('overloaded', { retryAfterMs: 3000 }));
    assert.equal(lane.pausedUntil, t + 3000);
    assert.equal(lane.snapshot().pauseReason, 'overloaded');
  });

  it('pauses are extended, never shortened, from inside or outside', () => {
    const { clock, lane } = setup();
    const t0 = clock.now();
    lane.pauseUntil(t0 + 10_000, 'remote');
    lane.pauseUntil(t0 + 5000, 'overloaded');
    assert.equal(lane.pausedUntil, t0 + 10_000);
    assert.equal(lane.snapshot().pauseReason, 'remote');
    // A permit granted before the pause comes back 429: its shorter retry-after does not cut the pause.
    const { lane: lane2 } = setup();
    const p = acquire(lane2);
    lane2.pauseUntil(t0 + 10_000, 'remote');
    p.release(outcome('rate_limited', { retryAfterMs: 1000 }));
    assert.equal(lane2.pausedUntil, t0 + 10_000);
    lane.pauseUntil(t0 + 20_000, 'retry-after');
    assert.equal(lane.pausedUntil, t0 + 20_000);
    assert.equal(lane.snapshot().pauseReason, 'retry-after');
    // A pause in the past or now is no pause.
    lane.pauseUntil(t0 - 1, 'remote');
    clock.set(t0 + 20_000);
    lane.pauseUntil(t0 + 20_000, 'remote');
    assert.equal(lane.pausedUntil, 0);
    assert.equal(lane.snapshot().pausedMsTotal, 20_000);
  });
});

describe('LaneLimiter: adaptive concurrency', () => {
  it('starts at min(4, max), grows only while the window is used, up to maxConcurrency', () => {
    const { lane } = setup({ maxConcurrency: 10 });
    assert.equal(lane.limit, 4);
    // One at a time never uses half the window: no growth.
    for (let i = 0; i < 20; i++) acquire(lane).release(outcome('success'));
    assert.equal(lane.limit, 4);
    const limits: number[] = [];
    for (let i = 0; i < 10; i++) {
      assert.equal(fillAndRelease(lane), limits.at(-1) ?? 4, 'a full window is exactly the limit');
      limits.push(lane.limit);
    }
    assert.deepEqual(limits.slice(0, 2), [7, 10]);
    assert.ok(limits.every((l) => l === 10 || l < 10));
    assert.equal(lane.limit, 10);
    assert.equal(setup({ maxConcurrency: 2 }).lane.limit, 2);
    assert.equal(setup({ maxConcurrency: 50, initialConcurrency: 8 }).lane.limit, 8);
  });

  it('shrinks by x0.9 (floor) on 429, 529 and timeouts, not on other failures, never below 1', () => {
    const { clock, lane } = setup({ maxConcurrency: 10 });
    while (lane.limit < 10) fillAndRelease(lane);
    acquire(lane).release(outcome('timeout'));
    assert.equal(lane.limit, 9);
    for (const kind of ['server_error', 'network', 'client_error', 'abandoned'] as const) {
      acquire(lane).release(outcome(kind));
    }
    assert.equal(lane.limit, 9);
    const p1 = acquire(lane);
    const p2 = acquire(lane);
    p1.release(outcome('rate_limited', { retryAfterMs: 10 }));
    assert.equal(lane.limit, 8);
    p2.release(outcome('overloaded', { retryAfterMs: 10 }));
    assert.equal(lane.limit, 7);
    clock.advance(10);
    for (let i = 0; i < 30; i++) acquire(lane).release(outcome('timeout'));
    assert.equal(lane.limit, 1);
  });

  it('returns to the slow-start value after a pause', () => {
    const { clock, lane } = setup({ maxConcurrency: 20 });
    while (lane.limit < 20) fillAndRelease(lane);
    lane.pauseUntil(clock.now() + 1000, 'remote');
    assert.equal(lane.limit, 20);
    clock.advance(1000);
    assert.equal(lane.limit, 4);
    assert.equal(fillAndRelease(lane), 4);
  });

  it('returns to the slow-start value after a minute with nothing in flight', () => {
    const { clock, lane } = setup({ maxConcurrency: 20 });
    while (lane.limit < 20) fillAndRelease(lane);
    clock.advance(59_999);
    assert.equal(lane.limit, 20);
    clock.advance(1);
    assert.equal(lane.limit, 4);
    // Busy lanes are not idle, however long a call takes.
    while (lane.limit < 20) fillAndRelease(lane);
    const p = acquire(lane);
    clock.advance(120_000);
    assert.equal(lane.limit, 20);
    p.release(outcome('success'));
  });

  it('readyAt is null while the concurrency window is full', () => {
    const { clock, lane } = setup({ maxConcurrency: 2 });
    const a = acquire(lane);
    acquire(lane);
    assert.equal(lane.tryAcquire(REQ), null);
    assert.equal(lane.readyAt(REQ), null);
    assert.equal(lane.hasBudget(), false);
    a.release(outcome('success'));
    assert.equal(lane.readyAt(REQ), clock.now());
    assert.equal(lane.hasBudget(), true);
  });

  /** Full windows of successes whose latency is `msPerToken * (output + 10)`, for `rounds` rounds. */
  function drive(lane: LaneLimiter, rounds: number, msPerToken: number, random: () => number): void {
    for (let r = 0; r < rounds; r++) {
      const permits: Permit[] = [];
      for (let p = lane.tryAcquire(REQ); p; p = lane.tryAcquire(REQ)) permits.push(p);
      for (const p of permits) {
        const output = 10 + Math.floor(random() * 1000);
        const usage: Usage = { input_tokens: 100, output_tokens: output };
        p.release(outcome('success', { latencyMs: msPerToken * (output + 10), usage }));
      }
    }
  }

  it('latency-aware: shrinks when latency per output token rises, not when outputs merely get longer', () => {
    const limits = { maxConcurrency: 64, initialConcurrency: 16 };
    const aware = setup({ ...limits, latencyAware: true }).lane;
    const plain = setup(limits).lane;
    for (const lane of [aware, plain]) drive(lane, 30, 10, seeded(7));
    // Output lengths vary 100-fold, yet per-token latency is flat: both grew to the maximum.
    assert.equal(aware.limit, 64);
    assert.equal(plain.limit, 64);
    // Per-token latency quadruples (a queue builds in the server): only the latency-aware lane backs off.
    for (const lane of [aware, plain]) drive(lane, 3, 40, seeded(8));
    assert.ok(aware.limit <= 40, `latency-aware limit after a slowdown: ${aware.limit}`);
    assert.equal(plain.limit, 64);
    // Latency back to normal: it grows again.
    drive(aware, 30, 10, seeded(9));
    assert.equal(aware.limit, 64);
  });
});

describe('LaneLimiter: token budgets', () => {
  it('OTPM: reserves max_tokens at acquire and refunds the unused part at release', () => {
    const { clock, lane } = setup({ outputTokensPerMinute: 10_000 });
    const big = { inputTokens: 0, maxOutputTokens: 4000 };
    const a = acquire(lane, big);
    const b = acquire(lane, big);
    assert.equal(lane.snapshot().buckets.outputTokens?.available, 2000);
    assert.equal(lane.tryAcquire(big), null);
    // 2000 missing at 10000 a minute: 12 s.
    assert.equal(lane.readyAt(big), clock.now() + 12_000);
    a.release(outcome('success', { usage: { input_tokens: 10, output_tokens: 1000 } }));
    assert.equal(lane.snapshot().buckets.outputTokens?.available, 5000);
    const c = acquire(lane, big);
    // Turned away before generating (no usage): everything comes back.
    b.release(outcome('client_error'));
    assert.equal(lane.snapshot().buckets.outputTokens?.available, 5000);
    // A timeout may have generated: the reservation stands.
    c.release(outcome('timeout'));
    assert.equal(lane.snapshot().buckets.outputTokens?.available, 5000);
  });

  it('ITPM: reserves the estimate and settles to input plus cache-creation tokens', () => {
    const { lane } = setup({ inputTokensPerMinute: 10_000 });
    const p = acquire(lane, { inputTokens: 1000, maxOutputTokens: 10 });
    assert.equal(lane.snapshot().buckets.inputTokens?.available, 9000);
    p.release(
      outcome('success', {
        usage: {
          input_tokens: 300,
          output_tokens: 5,
          cache_creation_input_tokens: 100,
          cache_read_input_tokens: 5000,
        },
      }),
    );
    assert.equal(lane.snapshot().buckets.inputTokens?.available, 9600);
  });

  it('admits a request larger than the bucket once the bucket is full, so it cannot deadlock', () => {
    const { clock, lane } = setup({ outputTokensPerMinute: 1000 });
    const huge = { inputTokens: 0, maxOutputTokens: 5000 };
    acquire(lane, huge).release(outcome('timeout'));
    assert.equal(lane.snapshot().buckets.outputTokens?.available, 0);
    assert.equal(lane.tryAcquire(huge), null);
    assert.equal(lane.readyAt(huge), clock.now() + 60_000);
    clock.advance(30_000);
    // A small one fits in the half-refilled bucket; the huge one now waits for it to refill again.
    acquire(lane, { inputTokens: 0, maxOutputTokens: 100 });
    assert.equal(lane.readyAt(huge), clock.now() + 36_000);
    clock.advance(35_999);
    assert.equal(lane.tryAcquire(huge), null);
    clock.advance(1);
    assert.ok(lane.tryAcquire(huge));
  });

  it('re-seeds from Anthropic headers, which override the configured budget', () => {
    const { clock, lane } = setup({ inputTokensPerMinute: 5000 });
    assert.deepEqual(lane.snapshot().buckets.inputTokens, {
      available: 5000,
      capacity: 5000,
      source: 'config',
    });
    const t0 = clock.now();
    acquire(lane).release(
      outcome('success', {
        headers: {
          'anthropic-ratelimit-requests-limit': '1000',
          'anthropic-ratelimit-requests-remaining': '999',
          'anthropic-ratelimit-requests-reset': iso(t0 + 60),
          'anthropic-ratelimit-input-tokens-limit': '80000',
          'anthropic-ratelimit-input-tokens-remaining': '1000',
          'anthropic-ratelimit-input-tokens-reset': iso(t0 + 45_000),
          'anthropic-ratelimit-output-tokens-limit': '16000',
          'anthropic-ratelimit-output-tokens-remaining': '16000',
          'anthropic-ratelimit-tokens-limit': '96000',
          'anthropic-ratelimit-tokens-remaining': '17000',
        },
      }),
    );
    const { buckets } = lane.snapshot();
    assert.deepEqual(buckets.inputTokens, { available: 1000, capacity: 80000, source: 'headers' });
    assert.deepEqual(buckets.outputTokens, { available: 16000, capacity: 16000, source: 'headers' });
    assert.deepEqual(buckets.requests, { available: 999, capacity: 1000, source: 'headers' });
    // The combined budget is only used when the upstream reports no split one.
    assert.equal(buckets.tokens, undefined);
    const req = { inputTokens: 2000, maxOutputTokens: 100 };
    assert.equal(lane.tryAcquire(req), null);
    // 1000 missing at 80000 a minute: 750 ms.
    assert.equal(lane.readyAt(req), t0 + 750);
    clock.advance(749);
    assert.equal(lane.tryAcquire(req), null);
    clock.advance(1);
    assert.ok(lane.tryAcquire(req));
  });

  it("re-seeds from OpenAI headers (combined tokens) and ignores Azure's -1", () => {
    const { clock, lane } = setup();
    acquire(lane).release(outcome('success', { headers: { 'x-ratelimit-limit-requests': '-1' } }));
    assert.deepEqual(lane.snapshot().buckets, {}, 'no config and no usable headers: unlimited');
    acquire(lane).release(
      outcome('success', {
        headers: {
          'x-ratelimit-limit-requests': '-1',
          'x-ratelimit-remaining-requests': '-1',
          'x-ratelimit-limit-tokens': '30000',
          'x-ratelimit-remaining-tokens': '100',
          'x-ratelimit-reset-tokens': '59.8s',
        },
      }),
    );
    const { buckets } = lane.snapshot();
    assert.equal(buckets.requests, undefined);
    assert.deepEqual(buckets.tokens, { available: 100, capacity: 30000, source: 'headers' });
    // 100 input + 100 output against 100 left at 500 a second: 200 ms.
    assert.equal(lane.tryAcquire(REQ), null);
    assert.equal(lane.readyAt(REQ), clock.now() + 200);
    assert.equal(lane.hasBudget(), true, 'a small request still fits');
    clock.advance(200);
    assert.ok(lane.tryAcquire(REQ));
    // Later responses keep re-seeding; a bad value leaves the last good one in place.
    acquire(lane, { inputTokens: 0, maxOutputTokens: 0 }).release(
      outcome('success', {
        headers: { 'x-ratelimit-remaining-tokens': '-1', 'x-ratelimit-limit-tokens': '60000' },
      }),
    );
    assert.equal(lane.snapshot().buckets.tokens?.capacity, 60000);
    acquire(lane, { inputTokens: 0, maxOutputTokens: 0 }).release(
      outcome('success', { headers: { 'x-ratelimit-remaining-tokens': '0' } }),
    );
    assert.equal(lane.snapshot().buckets.tokens?.available, 0);
    assert.equal(lane.hasBudget(), false);
  });
});

describe('LaneLimiter: permits, snapshot and validation', () => {
  it('a second release of the same permit is ignored', () => {
    const { lane } = setup({ outputTokensPerMinute: 1000 });
    const p = acquire(lane, { inputTokens: 0, maxOutputTokens: 500 });
    acquire(lane, { inputTokens: 0, maxOutputTokens: 100 });
    p.release(outcome('client_error'));
    p.release(outcome('client_error'));
    p.release(outcome('success'));
    const snap = lane.snapshot();
    assert.equal(snap.inFlight, 1);
    assert.equal(snap.counts.client_error, 1);
    assert.equal(snap.counts.success, 0);
    assert.equal(snap.buckets.outputTokens?.available, 900);
  });

  it('the snapshot reflects in-flight work, outcome counts, latency and pause time', () => {
    const { clock, lane } = setup({ maxConcurrency: 8, requestsPerMinute: 100 });
    const held = [acquire(lane), acquire(lane)];
    for (let i = 1; i <= 100 - 2; i++) {
      if (i === 50) {
        acquire(lane).release(outcome('rate_limited', { retryAfterMs: 3000, latencyMs: 5 }));
        clock.advance(1000);
        const paused = lane.snapshot();
        assert.equal(paused.pausedUntil, clock.now() + 2000);
        assert.equal(paused.pauseReason, 'retry-after');
        assert.equal(paused.pausedMsTotal, 1000);
        clock.advance(2000);
        continue;
      }
      acquire(lane).release(outcome(i % 10 === 0 ? 'server_error' : 'success', { latencyMs: i * 10 }));
    }
    const snap = lane.snapshot();
    assert.equal(snap.lane, 'anthropic/claude-test');
    assert.equal(snap.inFlight, 2);
    assert.equal(snap.maxConcurrency, 8);
    assert.equal(snap.limit, lane.limit);
    assert.equal(snap.pausedUntil, null);
    assert.equal(snap.pausedMsTotal, 3000);
    assert.deepEqual(snap.counts, {
      success: 89,
      rate_limited: 1,
      overloaded: 0,
      server_error: 8,
      timeout: 0,
      network: 0,
      client_error: 0,
      abandoned: 0,
    });
    assert.deepEqual(snap.buckets.requests, { available: 0, capacity: 100, source: 'config' });
    // 98 samples: 5 ms (the 429), then 10..980 ms without 500.
    assert.deepEqual(snap.latencyMs, { p50: 480, p99: 980, count: 98 });
    for (const p of held) p.release(outcome('abandoned', { latencyMs: 1e9 }));
    const after = lane.snapshot();
    assert.equal(after.inFlight, 0);
    assert.equal(after.counts.abandoned, 2);
    assert.equal(after.latencyMs?.count, 98, 'abandoned outcomes carry no latency signal');
  });

  it('rejects invalid limits and requests', () => {
    const clock = new ManualClock();
    const make = (limits: LaneLimits) => () => new LaneLimiter({ lane: 'l', limits, clock });
    assert.throws(make({ maxConcurrency: 0 }), RangeError);
    assert.throws(make({ maxConcurrency: 1.5 }), RangeError);
    assert.throws(make({ maxConcurrency: 4, initialConcurrency: 5 }), RangeError);
    assert.throws(make({ maxConcurrency: 4, requestsPerMinute: 0 }), RangeError);
    assert.throws(make({ maxConcurrency: 4, requestsPerMinute: 10.5 }), RangeError);
    assert.throws(make({ maxConcurrency: 4, requestsPerMinute: 10_000_000 }), RangeError);
    assert.throws(make({ maxConcurrency: 4, inputTokensPerMinute: -5 }), RangeError);
    assert.throws(make({ maxConcurrency: 4, outputTokensPerMinute: Number.NaN }), RangeError);
    const lane = new LaneLimiter({ lane: 'l', limits: { maxConcurrency: 4 }, clock });
    assert.throws(() => lane.tryAcquire({ inputTokens: Number.NaN, maxOutputTokens: 1 }), RangeError);
    assert.throws(() => lane.readyAt({ inputTokens: 1, maxOutputTokens: -1 }), RangeError);
    assert.equal(lane.inFlight, 0);
  });
});

describe('LatencyHistogram', () => {
  it('gives quantiles within 2% over a whole run, and the exact maximum', async () => {
    const { LatencyHistogram } = await import('../../src/dispatch/latency-histogram.ts');
    const h = new LatencyHistogram();
    assert.equal(h.summary(), null);
    for (let i = 1; i <= 1000; i++) h.add(i / 10); // 0.1 .. 100 ms
    const s = h.summary()!;
    assert.equal(s.count, 1000);
    assert.equal(s.max, 100);
    for (const [got, want] of [
      [s.p50, 50],
      [s.p90, 90],
      [s.p99, 99],
    ] as const) {
      assert.ok(got >= want && got <= want * 1.02, `${got} within 2% above ${want}`);
    }
    h.add(-1);
    h.add(Number.NaN);
    assert.equal(h.summary()!.count, 1000, 'nonsense samples are ignored');
  });
});
