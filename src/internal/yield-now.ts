/** Lets pending I/O (other requests) run before continuing: `setImmediate` runs after the poll phase. */
export function yieldNow(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Tracks how long a loop has held the event loop and yields once a slice is used up. Long streams (a 256 MB upload
 * whose chunks are already buffered, a results download whose writes complete at once) would otherwise run as one
 * task and stall every other request for hundreds of milliseconds.
 */
export class TimeSlice {
  private start = performance.now();
  constructor(private readonly sliceMs = 8) {}

  /** Yields if the current slice is used up. */
  async maybeYield(): Promise<void> {
    if (performance.now() - this.start < this.sliceMs) return;
    await yieldNow();
    this.start = performance.now();
  }
}
