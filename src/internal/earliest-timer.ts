/**
 * A one-shot, unref'd timer that keeps only the earliest of the times it is asked for: a later request while an
 * earlier one is pending changes nothing, an earlier one replaces it. Times are the caller's clock (ms).
 */
export class EarliestTimer {
  private timer: NodeJS.Timeout | null = null;
  private at = 0;

  constructor(private readonly fire: () => void) {}

  /** Fires at `at` (as seen from `now`), unless already set to fire no later. */
  set(at: number, now: number): void {
    if (this.timer && this.at <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.at = at;
    // Node fires timers beyond 2^31-1 ms after 1 ms.
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.fire();
      },
      Math.min(2 ** 31 - 1, Math.max(0, at - now)),
    );
    this.timer.unref();
  }

  get pending(): boolean {
    return this.timer !== null;
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
