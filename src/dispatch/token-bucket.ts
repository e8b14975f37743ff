import type { BucketSnapshot, Budget } from './budget.ts';

const MINUTE_MS = 60_000;
// Float refill can land a hair below the target at the instant readyAt promised; this absorbs it.
const EPSILON = 1e-6;

/**
 * A continuously refilled per-minute token bucket, which is how Anthropic describes its own limits: capacity = the
 * per-minute limit, refilled at limit/60 s. A cost above the capacity is admitted when the bucket is full (it would
 * never fit otherwise) and debits the whole bucket. Credits may push the level below zero, but never below one
 * minute of debt, so one bad estimate cannot stall a lane for long.
 */
export class TokenBucket implements Budget {
  private level: number;
  private last: number;

  constructor(
    private capacityValue: number,
    now: number,
    readonly source: 'config' | 'headers',
    level = capacityValue,
  ) {
    this.level = Math.min(level, capacityValue);
    this.last = now;
  }

  get capacity(): number {
    return this.capacityValue;
  }

  canTake(cost: number, now: number): boolean {
    this.refill(now);
    return this.level + EPSILON >= this.bounded(cost);
  }

  readyAt(cost: number, now: number): number {
    this.refill(now);
    const deficit = this.bounded(cost) - this.level;
    if (deficit <= EPSILON) return now;
    // Whole milliseconds, rounded up, so a clock set to this value finds the tokens there.
    return Math.ceil(now + deficit / this.perMs());
  }

  take(cost: number, now: number): number {
    this.refill(now);
    const debit = this.bounded(cost);
    this.level -= debit;
    return debit;
  }

  credit(amount: number, now: number): void {
    this.refill(now);
    this.level = Math.max(-this.capacityValue, Math.min(this.capacityValue, this.level + amount));
  }

  /** Re-seeds from an upstream reading: the limit sets capacity and refill rate, remaining sets the level. */
  reseed(limit: number | undefined, remaining: number | undefined, now: number): void {
    this.refill(now);
    if (limit !== undefined && limit > 0) this.capacityValue = limit;
    if (remaining !== undefined) this.level = remaining;
    this.level = Math.min(this.level, this.capacityValue);
  }

  snapshot(now: number): BucketSnapshot {
    this.refill(now);
    return {
      available: Math.max(0, Math.floor(this.level + EPSILON)),
      capacity: this.capacityValue,
      source: this.source,
    };
  }

  private bounded(cost: number): number {
    return Math.min(cost, this.capacityValue);
  }

  private perMs(): number {
    return this.capacityValue / MINUTE_MS;
  }

  private refill(now: number): void {
    // A clock that steps back refills nothing rather than draining the bucket.
    if (now <= this.last) return;
    this.level = Math.min(this.capacityValue, this.level + (now - this.last) * this.perMs());
    this.last = now;
  }
}
