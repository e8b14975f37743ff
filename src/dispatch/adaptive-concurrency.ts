/** Netflix AIMD's defaults (`AIMDLimit.java`): multiply by 0.9 on a drop. */
const BACKOFF_RATIO = 0.9;

// Gradient2-style latency tracking (Netflix `Gradient2Limit.java`), per output token because LLM latency scales
// with the tokens generated. K stands for the fixed cost of a call (prefill, network) in output-token units.
const K_TOKENS = 10;
const SHORT_SAMPLES = 10;
// Long enough that a sustained slowdown keeps reading as queueing for a few hundred calls, as Gradient2's 600.
const LONG_SAMPLES = 500;
const WARMUP_SAMPLES = 10;
const TOLERANCE = 1.5; // Gradient2's rttTolerance
const MIN_GRADIENT = 0.5; // never cut by more than half at once

export interface AdaptiveConcurrencyOptions {
  max: number;
  initial: number;
  latencyAware: boolean;
}

/**
 * The adaptive concurrency limit of one lane. AIMD (loss-based): +1 per success while the window is actually used
 * (`inFlight * 2 >= limit`), x0.9 on a drop (429, 529, timeout), within [1, max]. In latency-aware mode (local
 * servers, which queue instead of answering 429) also a Gradient2-style cut when the short average of latency per
 * output token rises above the long one by the tolerance.
 */
export class AdaptiveConcurrency {
  private value: number;
  private readonly latency: LatencyTrend | undefined;

  constructor(private readonly opts: AdaptiveConcurrencyOptions) {
    this.value = opts.initial;
    this.latency = opts.latencyAware ? new LatencyTrend() : undefined;
  }

  get limit(): number {
    return this.value;
  }

  /** A success; `inFlight` is the count when the request was admitted, itself included (as Netflix samples it). */
  onSuccess(inFlight: number, latencyMs: number | undefined, outputTokens: number | undefined): void {
    if (this.latency && latencyMs !== undefined) {
      const gradient = this.latency.add(latencyMs / ((outputTokens ?? 0) + K_TOKENS), this.value);
      if (gradient < 1) {
        // At least the loss cut: the trend is caught as it crosses the tolerance, when the gradient is near 1.
        this.set(Math.floor(this.value * Math.min(BACKOFF_RATIO, gradient)));
        return;
      }
      // Still queueing, already cut for it: hold rather than grow back into the queue.
      if (this.latency.queueing) return;
    }
    if (inFlight * 2 >= this.value) this.set(this.value + 1);
  }

  /** A rate limit, an overload or a timeout. */
  onDrop(): void {
    this.set(Math.floor(this.value * BACKOFF_RATIO));
  }

  /** Back to the slow-start value (never up to it): after a pause or an idle spell. */
  slowStart(): void {
    this.set(Math.min(this.value, this.opts.initial));
  }

  private set(v: number): void {
    this.value = Math.min(this.opts.max, Math.max(1, v));
  }
}

/**
 * Short and long exponential averages of a latency signal. `add` returns a gradient below 1 when the short average
 * exceeds the long one by more than the tolerance (a queue is building), at most once per window of samples so a
 * single spike is not cut for again while the short average catches up.
 */
class LatencyTrend {
  private short = 0;
  private long = 0;
  private samples = 0;
  private cooldown = 0;
  queueing = false;

  add(sample: number, window: number): number {
    if (!Number.isFinite(sample) || sample < 0) return 1;
    if (this.samples === 0) {
      this.short = sample;
      this.long = sample;
    } else {
      this.short += (sample - this.short) * (2 / (SHORT_SAMPLES + 1));
      this.long += (sample - this.long) * (2 / (LONG_SAMPLES + 1));
    }
    this.samples++;
    // Gradient2's drift guard: after a spike the long average would stay high for a long time; pull it down.
    if (this.short > 0 && this.long / this.short > 2) this.long *= 0.95;
    if (this.cooldown > 0) this.cooldown--;
    this.queueing = this.samples >= WARMUP_SAMPLES && this.short > this.long * TOLERANCE;
    if (!this.queueing || this.cooldown > 0) return 1;
    this.cooldown = window;
    return Math.max(MIN_GRADIENT, (TOLERANCE * this.long) / this.short);
  }
}
