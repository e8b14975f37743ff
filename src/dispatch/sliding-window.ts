import type { BucketSnapshot, Budget } from './budget.ts';

const MINUTE_MS = 60_000;

/**
 * A sliding log of the last `capacity` grant times (a ring buffer): a grant is allowed only when the oldest of the
 * last `capacity` grants is at least one window old, so no window of `windowMs` (half-open) ever holds more than
 * `capacity` grants. A token bucket of the same capacity would allow up to twice that in one window. Each grant
 * counts one, whatever the cost, and nothing is ever given back: the upstream saw the request.
 */
export class SlidingWindowLog implements Budget {
  readonly source = 'config';
  private readonly times: Float64Array;
  private head = 0; // index of the oldest recorded grant
  private count = 0;
  private latest = Number.NEGATIVE_INFINITY;

  constructor(
    readonly capacity: number,
    private readonly windowMs = MINUTE_MS,
  ) {
    if (!(Number.isInteger(capacity) && capacity >= 1))
      throw new RangeError(`capacity must be an integer >= 1`);
    this.times = new Float64Array(capacity);
  }

  canTake(_cost: number, now: number): boolean {
    return this.readyAt(1, now) <= now;
  }

  readyAt(_cost: number, now: number): number {
    if (this.count < this.capacity) return now;
    return Math.max(now, this.times[this.head]! + this.windowMs);
  }

  take(_cost: number, now: number): number {
    // Times stay non-decreasing even if the clock steps back, so the oldest grant is always at `head`.
    const t = Math.max(now, this.latest);
    this.latest = t;
    if (this.count < this.capacity) {
      this.times[(this.head + this.count) % this.capacity] = t;
      this.count++;
    } else {
      this.times[this.head] = t;
      this.head = (this.head + 1) % this.capacity;
    }
    return 1;
  }

  credit(): void {}

  snapshot(now: number): BucketSnapshot {
    let inWindow = 0;
    for (let i = 0; i < this.count; i++) {
      if (this.times[(this.head + i) % this.capacity]! > now - this.windowMs) inWindow++;
    }
    return { available: this.capacity - inWindow, capacity: this.capacity, source: this.source };
  }
}
