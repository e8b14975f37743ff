import type { ModelBackend } from '../backends/model-backend.ts';
import type { Clock } from '../domain/clock.ts';
import type { Notifier } from '../queue/notifier.ts';
import type { ClaimedItem, Completion, Store } from '../store/store.ts';
import { runItem } from './run-item.ts';

export interface WorkerOptions {
  store: Store;
  backend: ModelBackend;
  clock: Clock;
  notifier: Notifier;
  /** Requests in flight at once. */
  concurrency: number;
  /** Identifies this worker's claims. */
  owner: string;
  /** How long a claim lives without a heartbeat. */
  leaseMs?: number;
  /** Poll interval when idle and no wake-up arrives. */
  pollMs?: number;
  /** Results are written in one transaction once this many are waiting... */
  flushSize?: number;
  /** ...or this long after the first one arrived. */
  flushDelayMs?: number;
  onError?: (err: unknown) => void;
}

/**
 * The worker loop: claim -> run against the backend -> write the result line.
 *
 * It claims only when a useful number of slots is free (one claim transaction per many items), yields to the event
 * loop between claims so API requests stay fast while a batch runs, and writes completions in batches (graphile's
 * completeJobBatchDelay, River's BatchCompleter): one transaction per few hundred results instead of one each.
 */
export class Worker {
  private readonly o: Required<Omit<WorkerOptions, 'onError'>> & Pick<WorkerOptions, 'onError'>;
  private readonly inFlight = new Map<number, { item: ClaimedItem; ctl: AbortController }>();
  private pending: Completion[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private pollTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private scheduled = false;
  private claiming = false;
  private stopping = false;
  private started = false;
  private drained: (() => void) | null = null;
  private readonly unsubscribe: Array<() => void> = [];
  /** Items finished by this worker (for metrics and tests). */
  completed = 0;

  constructor(opts: WorkerOptions) {
    this.o = { leaseMs: 60_000, pollMs: 1000, flushSize: 500, flushDelayMs: 10, ...opts };
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.unsubscribe.push(this.o.notifier.on('batch-ready', () => this.wake()));
    this.unsubscribe.push(this.o.notifier.on('batch-expired', (id) => this.abortBatch(id)));
    this.heartbeatTimer = setInterval(
      () => {
        this.o.store
          .heartbeat(this.o.owner, this.o.clock.now(), this.o.leaseMs)
          .catch((e) => this.o.onError?.(e));
      },
      Math.min(2 ** 31 - 1, Math.max(1000, Math.floor(this.o.leaseMs / 3))),
    );
    this.heartbeatTimer.unref();
    this.wake();
  }

  /** Something may be claimable: run a claim soon. */
  wake(): void {
    if (this.scheduled || this.stopping || !this.started) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.pump();
    });
  }

  get activeCount(): number {
    return this.inFlight.size;
  }

  private async pump(): Promise<void> {
    if (this.claiming || this.stopping) return;
    const free = this.o.concurrency - this.inFlight.size;
    // Claim in useful chunks: waiting for an eighth of the slots keeps claims (write transactions) few.
    if (free <= 0 || (this.inFlight.size > 0 && free < Math.max(1, this.o.concurrency >> 3))) return;
    this.claiming = true;
    let items: ClaimedItem[] = [];
    try {
      items = await this.o.store.claim({
        owner: this.o.owner,
        limit: free,
        now: this.o.clock.now(),
        leaseMs: this.o.leaseMs,
      });
    } catch (err) {
      this.o.onError?.(err);
    } finally {
      this.claiming = false;
    }
    if (this.stopping) {
      await this.o.store.release(items.map((i) => ({ itemId: i.itemId, attempt: i.attempt })));
      return;
    }
    for (const item of items) this.launch(item);
    if (items.length === 0 && this.inFlight.size === 0) this.armPoll();
  }

  private armPoll(): void {
    if (this.pollTimer || this.stopping) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      this.wake();
    }, this.o.pollMs);
    this.pollTimer.unref();
  }

  private launch(item: ClaimedItem): void {
    const ctl = new AbortController();
    this.inFlight.set(item.itemId, { item, ctl });
    runItem(item, this.o.backend, ctl.signal).then(
      (completion) => this.finish(item, completion),
      (err) => {
        this.o.onError?.(err);
        this.finish(item, null);
      },
    );
  }

  private finish(item: ClaimedItem, completion: Completion | null): void {
    this.inFlight.delete(item.itemId);
    if (completion) {
      this.pending.push(completion);
      this.completed++;
      if (this.pending.length >= this.o.flushSize) this.flush();
      else if (!this.flushTimer) {
        this.flushTimer = setTimeout(() => this.flush(), this.o.flushDelayMs);
      }
    } else {
      void this.o.store
        .release([{ itemId: item.itemId, attempt: item.attempt }])
        .catch((e) => this.o.onError?.(e));
    }
    if (this.inFlight.size === 0 && this.drained) this.drained();
    this.wake();
  }

  /** Writes the waiting completions in one transaction; flushes are serialised. */
  flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(async () => {
      try {
        const ended = await this.o.store.complete(batch, this.o.clock.now());
        for (const id of ended) this.o.notifier.notify('batch-ended', id);
      } catch (err) {
        this.o.onError?.(err);
      }
    });
    return this.flushing;
  }

  /**
   * Aborts in-flight calls of an expired batch, freeing their slots at once; their results would be fenced out
   * anyway, and the aborted items are already final, so releasing them changes nothing.
   */
  abortBatch(batchId: string): void {
    for (const { item, ctl } of this.inFlight.values()) {
      if (item.batchId === batchId) ctl.abort(new Error('batch expired'));
    }
  }

  /**
   * Graceful stop: claim nothing more, give in-flight requests up to `graceMs` to finish, abort the rest (they go
   * back to the queue), and write every finished result.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.inFlight.size > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs);
        this.drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    for (const { ctl } of this.inFlight.values()) ctl.abort(new Error('shutting down'));
    // Aborted runs settle on the next ticks; wait for them so their items are released.
    while (this.inFlight.size > 0) await new Promise((r) => setImmediate(r));
    await this.flush();
  }
}
