import type { HeaderBag, Usage } from '../backends/model-backend.ts';
import type { Clock } from '../domain/clock.ts';
import { AdaptiveConcurrency } from './adaptive-concurrency.ts';
import type { BucketSnapshot, Budget } from './budget.ts';
import { LatencyWindow } from './latency-window.ts';
import { backoffMs, exhaustedResetAt } from './pause-policy.ts';
import { type BudgetReading, parseRateLimitHeaders, type RateLimitReadings } from './rate-limit-headers.ts';
import { SlidingWindowLog } from './sliding-window.ts';
import { TokenBucket } from './token-bucket.ts';

export type { BucketSnapshot } from './budget.ts';

export interface LaneLimits {
  /** Upper bound of the adaptive concurrency limit (>= 1). */
  maxConcurrency: number;
  /** Slow-start value; default min(4, maxConcurrency). */
  initialConcurrency?: number;
  /** Configured budgets; undefined = unlimited unless response headers say otherwise. */
  requestsPerMinute?: number;
  inputTokensPerMinute?: number;
  outputTokensPerMinute?: number;
  /** Local servers without rate-limit headers: also shrink on rising latency. */
  latencyAware?: boolean;
}

export interface AcquireRequest {
  inputTokens: number;
  maxOutputTokens: number;
}

/** `abandoned` = the caller gave up (shutdown, expiry): no signal about the lane. */
export type OutcomeKind =
  | 'success'
  | 'rate_limited'
  | 'overloaded'
  | 'server_error'
  | 'timeout'
  | 'network'
  | 'client_error'
  | 'abandoned';

export interface LaneOutcome {
  kind: OutcomeKind;
  latencyMs: number;
  headers?: HeaderBag;
  usage?: Usage;
  /** Already parsed from retry-after-ms / retry-after by the backend. */
  retryAfterMs?: number;
}

/** Idempotent: a second `release` is ignored. */
export interface Permit {
  release(outcome: LaneOutcome): void;
}

export interface LaneSnapshot {
  lane: string;
  inFlight: number;
  limit: number;
  maxConcurrency: number;
  initialConcurrency: number;
  pausedUntil: number | null;
  pauseReason: string | null;
  pausedMsTotal: number;
  /** The budget in force per dimension: the upstream's (from headers) once seen, else the configured one. */
  buckets: {
    requests?: BucketSnapshot;
    inputTokens?: BucketSnapshot;
    outputTokens?: BucketSnapshot;
    tokens?: BucketSnapshot;
  };
  counts: Record<OutcomeKind, number>;
  /** Over the last 256 outcomes (abandoned ones excluded). */
  latencyMs: { p50: number; p99: number; count: number } | null;
}

export type PauseReason = 'retry-after' | 'overloaded' | 'remote';

/** Budget dimensions; `tokens` is the combined input + output budget some upstreams report (OpenAI). */
type Dimension = 'requests' | 'inputTokens' | 'outputTokens' | 'tokens';
const DIMENSIONS: readonly Dimension[] = ['requests', 'inputTokens', 'outputTokens', 'tokens'];

/** Anthropic's acceleration limits punish sudden ramps: after this long with nothing in flight, slow-start again. */
const IDLE_MS = 60_000;
/** Pauses at least this long restart the concurrency window from its slow-start value. */
const SLOW_START_AFTER_PAUSE_MS = 1000;
/** No pause is longer than this, whatever a header or a broadcast says; a still-exhausted upstream re-pauses. */
const MAX_PAUSE_MS = 3_600_000;
/** What hasBudget checks each bucket against: one request of one token each way. */
const SMALL_REQUEST: AcquireRequest = { inputTokens: 1, maxOutputTokens: 1 };

// Outcomes where the upstream turned the request away before doing any work, so its token reservations are
// returned in full when no usage came back. After a timeout, a network error or a 500 the tokens may well have
// been spent, so the reservation stands (headers on a later response correct it).
const REFUSED_UPFRONT: ReadonlySet<OutcomeKind> = new Set(['rate_limited', 'overloaded', 'client_error']);

/** One debit made at acquire, remembered so release settles against the same budget object. */
interface Debit {
  dim: Dimension;
  budget: Budget;
  amount: number;
}

/** A permit as a small object rather than a closure: tsx wraps every closure it creates, a cost per call. */
class LanePermit implements Permit {
  private released = false;
  constructor(
    private readonly limiter: LaneLimiter,
    private readonly debits: readonly Debit[],
    private readonly inFlightAtStart: number,
  ) {}
  release(outcome: LaneOutcome): void {
    if (this.released) return;
    this.released = true;
    this.limiter.onRelease(this.debits, this.inFlightAtStart, outcome);
  }
}

/**
 * The limiter of one lane (a backend and model pair) in one process (architecture §4.7). Synchronous, with no
 * timers: the dispatch loop asks `tryAcquire`, and when refused asks `readyAt` when to try again. Gates, in order:
 * the pause, the adaptive concurrency limit, then the per-minute budgets (requests, input tokens, output tokens).
 * Budgets come from the configured limits until the upstream's rate-limit headers describe them; from then on the
 * headers (re-read on every response) set them, since they report the org-wide remaining budget.
 */
export class LaneLimiter {
  private readonly lane: string;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly maxConcurrency: number;
  private readonly initialConcurrency: number;
  private readonly concurrency: AdaptiveConcurrency;
  private readonly configured: Partial<Record<Dimension, Budget>> = {};
  private readonly upstream: Partial<Record<Dimension, TokenBucket>> = {};
  private readonly counts: Record<OutcomeKind, number> = {
    success: 0,
    rate_limited: 0,
    overloaded: 0,
    server_error: 0,
    timeout: 0,
    network: 0,
    client_error: 0,
    abandoned: 0,
  };
  private readonly latencies = new LatencyWindow();
  private inFlightCount = 0;
  private lastActivityAt: number;
  private pausedUntilMs = 0;
  private pauseReason: PauseReason | null = null;
  private pauseStartedAt = 0;
  private pausedMsDone = 0;
  private backoffAttempt = 0;

  constructor(opts: { lane: string; limits: LaneLimits; clock: Clock; random?: () => number }) {
    const { limits } = opts;
    this.lane = opts.lane;
    this.clock = opts.clock;
    this.random = opts.random ?? Math.random;
    if (!(Number.isInteger(limits.maxConcurrency) && limits.maxConcurrency >= 1)) {
      throw new RangeError(`lane ${opts.lane}: maxConcurrency must be an integer >= 1`);
    }
    this.maxConcurrency = limits.maxConcurrency;
    this.initialConcurrency = limits.initialConcurrency ?? Math.min(4, limits.maxConcurrency);
    if (
      !(
        Number.isInteger(this.initialConcurrency) &&
        this.initialConcurrency >= 1 &&
        this.initialConcurrency <= this.maxConcurrency
      )
    ) {
      throw new RangeError(`lane ${opts.lane}: initialConcurrency must be an integer in [1, maxConcurrency]`);
    }
    this.concurrency = new AdaptiveConcurrency({
      max: this.maxConcurrency,
      initial: this.initialConcurrency,
      latencyAware: limits.latencyAware ?? false,
    });
    const now = this.clock.now();
    this.lastActivityAt = now;
    const rpm = limits.requestsPerMinute;
    if (rpm !== undefined) {
      // The ring buffer holds one slot per request of the minute, so the limit is bounded.
      if (!(Number.isInteger(rpm) && rpm >= 1 && rpm <= 1_000_000)) {
        throw new RangeError(`lane ${opts.lane}: requestsPerMinute must be an integer in [1, 1000000]`);
      }
      this.configured.requests = new SlidingWindowLog(rpm);
    }
    for (const [dim, perMinute] of [
      ['inputTokens', limits.inputTokensPerMinute],
      ['outputTokens', limits.outputTokensPerMinute],
    ] as const) {
      if (perMinute === undefined) continue;
      if (!(Number.isFinite(perMinute) && perMinute > 0)) {
        throw new RangeError(`lane ${opts.lane}: ${dim} per minute must be a positive number`);
      }
      this.configured[dim] = new TokenBucket(perMinute, now, 'config');
    }
  }

  tryAcquire(req: AcquireRequest): Permit | null {
    checkRequest(req);
    const now = this.refresh();
    if (this.pausedUntilMs > now || this.inFlightCount >= this.concurrency.limit) return null;
    for (const dim of DIMENSIONS) {
      if (this.budget(dim)?.canTake(cost(req, dim), now) === false) return null;
    }
    const debits: Debit[] = [];
    for (const dim of DIMENSIONS) {
      const budget = this.budget(dim);
      if (budget) debits.push({ dim, budget, amount: budget.take(cost(req, dim), now) });
    }
    this.inFlightCount++;
    this.lastActivityAt = now;
    return new LanePermit(this, debits, this.inFlightCount);
  }

  /**
   * Epoch ms (clock time) at which tryAcquire(req) could succeed if nothing else changes; null when only a release
   * can make room (concurrency full). Returns clock.now() or earlier when it would succeed now.
   */
  readyAt(req: AcquireRequest): number | null {
    checkRequest(req);
    const now = this.refresh();
    const paused = this.pausedUntilMs > now;
    // A pause ends in slow start, so what counts is the limit the lane will have then.
    const limit = paused ? Math.min(this.concurrency.limit, this.initialConcurrency) : this.concurrency.limit;
    if (this.inFlightCount >= limit) return null;
    let at = paused ? this.pausedUntilMs : now;
    for (const dim of DIMENSIONS) {
      const budget = this.budget(dim);
      if (budget) at = Math.max(at, budget.readyAt(cost(req, dim), now));
    }
    return at;
  }

  /**
   * Cheap: not paused, below the concurrency limit, and every bucket holds at least one small request. Used by the
   * claimer to skip lanes with no budget.
   */
  hasBudget(): boolean {
    const now = this.refresh();
    if (this.pausedUntilMs > now || this.inFlightCount >= this.concurrency.limit) return false;
    return DIMENSIONS.every((dim) => this.budget(dim)?.canTake(cost(SMALL_REQUEST, dim), now) !== false);
  }

  /** Pauses the lane until `epochMs`; only ever extends a pause (a broadcast may arrive late or out of order). */
  pauseUntil(epochMs: number, reason: PauseReason): void {
    const now = this.refresh();
    if (!Number.isFinite(epochMs)) return;
    const until = Math.ceil(Math.min(epochMs, now + MAX_PAUSE_MS));
    if (until <= now || until <= this.pausedUntilMs) return;
    if (this.pausedUntilMs === 0) this.pauseStartedAt = now;
    this.pausedUntilMs = until;
    this.pauseReason = reason;
  }

  /** 0 when not paused. */
  get pausedUntil(): number {
    this.refresh();
    return this.pausedUntilMs;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  /** The current adaptive concurrency limit. */
  get limit(): number {
    this.refresh();
    return this.concurrency.limit;
  }

  snapshot(): LaneSnapshot {
    const now = this.refresh();
    const buckets: LaneSnapshot['buckets'] = {};
    for (const dim of DIMENSIONS) {
      const budget = this.budget(dim);
      if (budget) buckets[dim] = budget.snapshot(now);
    }
    const paused = this.pausedUntilMs > 0;
    return {
      lane: this.lane,
      inFlight: this.inFlightCount,
      limit: this.concurrency.limit,
      maxConcurrency: this.maxConcurrency,
      initialConcurrency: this.initialConcurrency,
      pausedUntil: paused ? this.pausedUntilMs : null,
      pauseReason: paused ? this.pauseReason : null,
      pausedMsTotal: this.pausedMsDone + (paused ? now - this.pauseStartedAt : 0),
      buckets,
      counts: { ...this.counts },
      latencyMs: this.latencies.summary(),
    };
  }

  /** The budget in force for a dimension: the upstream's once its headers were seen, else the configured one. */
  private budget(dim: Dimension): Budget | undefined {
    return this.upstream[dim] ?? this.configured[dim];
  }

  /** Brings time-driven state up to date: ends an expired pause and slow-starts after a pause or an idle spell. */
  private refresh(): number {
    const now = this.clock.now();
    if (this.pausedUntilMs !== 0 && now >= this.pausedUntilMs) {
      const pausedMs = this.pausedUntilMs - this.pauseStartedAt;
      this.pausedMsDone += pausedMs;
      this.pausedUntilMs = 0;
      this.pauseReason = null;
      // After a real pause the upstream's acceleration limits call for a ramp; a blip of a few hundred ms (a
      // retry-after-ms) already shrank the window multiplicatively, and resetting it each time would starve a
      // busy lane.
      if (pausedMs >= SLOW_START_AFTER_PAUSE_MS) this.concurrency.slowStart();
    }
    if (this.inFlightCount === 0 && now - this.lastActivityAt >= IDLE_MS) this.concurrency.slowStart();
    return now;
  }

  /** @internal Settles a permit (`LanePermit.release`). */
  onRelease(debits: readonly Debit[], inFlightAtStart: number, outcome: LaneOutcome): void {
    const now = this.refresh();
    this.inFlightCount--;
    this.lastActivityAt = now;
    this.counts[outcome.kind]++;
    const latencyMs =
      Number.isFinite(outcome.latencyMs) && outcome.latencyMs >= 0 ? outcome.latencyMs : undefined;
    if (latencyMs !== undefined && outcome.kind !== 'abandoned') this.latencies.add(latencyMs);

    for (const d of debits) {
      const used = spent(d.dim, outcome);
      if (used !== undefined) d.budget.credit(d.amount - used, now);
    }
    const readings = outcome.headers ? parseRateLimitHeaders(outcome.headers, now) : {};
    this.reseed(readings, now);

    switch (outcome.kind) {
      case 'success':
        this.backoffAttempt = 0;
        this.concurrency.onSuccess(inFlightAtStart, latencyMs, outcome.usage?.output_tokens);
        break;
      case 'rate_limited': {
        this.concurrency.onDrop();
        const retryAfter = validRetryAfter(outcome.retryAfterMs);
        let until = retryAfter === undefined ? exhaustedResetAt(readings, now) : now + retryAfter;
        if (until === undefined) until = now + backoffMs(this.backoffAttempt++, this.random);
        this.pauseUntil(until, 'retry-after');
        break;
      }
      case 'overloaded': {
        // A 529 is load across all users, not this lane's budget: shrink the window and let the request's own
        // backoff retry it; a whole-lane pause per 529 would stall a busy lane on a few percent of overloads.
        // Only an explicit wait hint pauses the lane.
        this.concurrency.onDrop();
        const retryAfter = validRetryAfter(outcome.retryAfterMs);
        if (retryAfter !== undefined) this.pauseUntil(now + retryAfter, 'overloaded');
        break;
      }
      case 'timeout':
        this.concurrency.onDrop();
        break;
      default:
        // server_error, network, client_error, abandoned: not a sign of too much load. The worker's retry
        // policy backs off the item itself.
        break;
    }
  }

  /** Headers set the upstream budgets. The combined `tokens` budget only counts when no split one is reported. */
  private reseed(readings: RateLimitReadings, now: number): void {
    const split = readings.inputTokens !== undefined || readings.outputTokens !== undefined;
    for (const dim of DIMENSIONS) {
      const r: BudgetReading | undefined = readings[dim];
      if (!r || (dim === 'tokens' && split)) continue;
      const bucket = this.upstream[dim];
      if (bucket) bucket.reseed(r.limit, r.remaining, now);
      else if (r.limit !== undefined)
        this.upstream[dim] = new TokenBucket(r.limit, now, 'headers', r.remaining);
      // A reading without a limit and no bucket yet gives no refill rate to work with; it is not used.
    }
  }
}

function checkRequest(req: AcquireRequest): void {
  for (const n of [req.inputTokens, req.maxOutputTokens]) {
    if (!(Number.isFinite(n) && n >= 0)) throw new RangeError('token counts must be finite and >= 0');
  }
}

function cost(req: AcquireRequest, dim: Dimension): number {
  switch (dim) {
    case 'requests':
      return 1;
    case 'inputTokens':
      return req.inputTokens;
    case 'outputTokens':
      return req.maxOutputTokens;
    case 'tokens':
      return req.inputTokens + req.maxOutputTokens;
  }
}

/**
 * What a finished call really cost a dimension, to settle the reservation made at acquire: the usage when it came
 * back (input counts cache writes, as Anthropic's ITPM does; cache reads are free for most models), nothing when
 * the upstream refused the call up front, else undefined (keep the reservation). Requests are never given back.
 */
function spent(dim: Dimension, outcome: LaneOutcome): number | undefined {
  if (dim === 'requests') return undefined;
  const u = outcome.usage;
  if (!u) return REFUSED_UPFRONT.has(outcome.kind) ? 0 : undefined;
  const input = count(u.input_tokens) + count(u.cache_creation_input_tokens);
  const output = count(u.output_tokens);
  return dim === 'inputTokens' ? input : dim === 'outputTokens' ? output : input + output;
}

function count(n: number | null | undefined): number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0;
}

function validRetryAfter(ms: number | undefined): number | undefined {
  return ms !== undefined && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}
