/** The last `size` latencies of a lane (a ring buffer), for the p50/p99 in its snapshot. */
export class LatencyWindow {
  private readonly values: Float64Array;
  private next = 0;
  private count = 0;

  constructor(size = 256) {
    this.values = new Float64Array(size);
  }

  add(ms: number): void {
    this.values[this.next] = ms;
    this.next = (this.next + 1) % this.values.length;
    if (this.count < this.values.length) this.count++;
  }

  /** Nearest-rank percentiles; null before the first sample. */
  summary(): { p50: number; p99: number; count: number } | null {
    if (this.count === 0) return null;
    const sorted = this.values.slice(0, this.count).sort();
    const at = (p: number): number => sorted[Math.max(0, Math.ceil(p * this.count) - 1)]!;
    return { p50: at(0.5), p99: at(0.99), count: this.count };
  }
}
