import type { Logger } from 'pino';
import type { Clock } from '../domain/clock.ts';
import type { Store, SweepReport } from '../store/store.ts';
import type { Notifier } from './notifier.ts';

export interface SweeperOptions {
  store: Store;
  clock: Clock;
  notifier: Notifier;
  retentionMs: number;
  /** Time between passes when nothing is pending. */
  intervalMs: number;
  /** Rows per step and transaction. */
  chunk?: number;
  onError?: (err: unknown) => void;
  /** Told of each pass's report (the metrics). */
  observer?: { swept(report: SweepReport): void };
  /** Rescued leases are worth a warning: each one is a worker that stopped renewing (crashed, hung, cut off). */
  log?: Pick<Logger, 'warn'>;
}

/**
 * Runs the store's sweep (rescue, expiry, cancellation, finalisation, archival, purge) on an interval, again at
 * once while a pass reports more work, and soon after a cancel. Tests call `runOnce` after moving the clock.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<SweepReport> | null = null;
  private stopped = true;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(private readonly opts: SweeperOptions) {}

  start(): void {
    this.stopped = false;
    this.unsubscribe.push(this.opts.notifier.on('batch-canceled', () => this.kick()));
    this.arm(0);
  }

  /** Runs one pass (or joins the one in progress). */
  async runOnce(): Promise<SweepReport> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        const report = await this.opts.store.sweep({
          now: this.opts.clock.now(),
          retentionMs: this.opts.retentionMs,
          chunk: this.opts.chunk ?? 2000,
        });
        this.opts.observer?.swept(report);
        if (report.rescued) {
          this.opts.log?.warn(
            { rescued: report.rescued },
            'requeued requests whose lease lapsed (their worker stopped renewing it)',
          );
        }
        for (const id of report.expiredBatches) this.opts.notifier.notify('batch-expired', id);
        for (const id of report.ended) this.opts.notifier.notify('batch-ended', id);
        return report;
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** Runs passes until one reports no more work (for tests and shutdown). */
  async drain(): Promise<void> {
    while ((await this.runOnce()).more);
  }

  kick(): void {
    if (!this.stopped) this.arm(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.running) await this.running.catch(() => {});
  }

  private arm(delay: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.runOnce().then(
        (r) => {
          if (!this.stopped) this.arm(r.more ? 0 : this.opts.intervalMs);
        },
        (err) => {
          this.opts.onError?.(err);
          if (!this.stopped) this.arm(this.opts.intervalMs);
        },
      );
    }, delay);
    this.timer.unref();
  }
}
