/** What a lane reports about one budget: its level now, its size, and whether config or upstream headers set it. */
export interface BucketSnapshot {
  available: number;
  capacity: number;
  source: 'config' | 'headers';
}

/**
 * One per-minute budget of a lane (requests, input tokens, output tokens). Synchronous and clock-driven: every
 * method takes `now`, so the lane decides when time passes. `cost` is in the budget's own unit.
 */
export interface Budget {
  /** True when `take(cost)` would be allowed now. */
  canTake(cost: number, now: number): boolean;
  /** Epoch ms from which `canTake(cost)` holds if nothing else changes (`now` or earlier when it holds now). */
  readyAt(cost: number, now: number): number;
  /** Debits the budget; returns the amount actually debited, which is what a later `credit` may give back. */
  take(cost: number, now: number): number;
  /** Gives back (positive) or charges more (negative) after the fact, e.g. unused `max_tokens`. */
  credit(amount: number, now: number): void;
  snapshot(now: number): BucketSnapshot;
}
