import type { RoutedBackend } from '../backends/backend-routes.ts';
import type { CallAbort } from '../backends/call-signal.ts';
import {
  type AcquireRequest,
  LaneLimiter,
  type LaneSnapshot,
  type Permit,
} from '../dispatch/lane-limiter.ts';
import { LatencyHistogram, type LatencySummary } from '../dispatch/latency-histogram.ts';
import type { Clock } from '../domain/clock.ts';
import type { ClaimedItem } from '../store/store.ts';

/** A claimed request with its lane, waiting for a permit or running. */
export interface Job {
  item: ClaimedItem;
  params: Record<string, unknown>;
  request: AcquireRequest;
  lane: Lane;
  /** Aborts the call (shutdown, expiry, the attempt deadline); the backend's signal. */
  ctl: CallAbort;
  permit: Permit | null;
  /** The attempt deadline's timer, when the worker owns it. */
  deadline?: NodeJS.Timeout;
}

/** One (backend, model) lane: its limiter and the claimed requests waiting for it, oldest first. */
export class Lane {
  /** Waiting jobs from `head` on; slots before it are emptied as they are taken (see `shift`). */
  private queue: Array<Job | undefined> = [];
  private head = 0;
  readonly limiter: LaneLimiter;
  /** Every call's duration as this worker saw it (backend code included), for reports and the benchmark. */
  readonly calls = new LatencyHistogram();

  constructor(
    readonly key: string,
    readonly model: string,
    readonly target: RoutedBackend,
    clock: Clock,
    random: () => number,
  ) {
    this.limiter = new LaneLimiter({ lane: key, limits: target.laneLimits, clock, random });
  }

  get waiting(): number {
    return this.queue.length - this.head;
  }
  peek(): Job | undefined {
    return this.queue[this.head];
  }
  push(job: Job): void {
    this.queue.push(job);
  }
  shift(): Job {
    const job = this.queue[this.head]!;
    // Emptied at once: a taken slot kept its job (the request's params, raw and parsed) reachable until the next
    // compaction, up to 1,024 finished jobs a lane, for as long as the lane lived (a lane that ran a few hundred
    // large image requests and went idle held all of them).
    this.queue[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return job;
  }
  /** Takes out the waiting jobs that match. */
  remove(match: (job: Job) => boolean): Job[] {
    const rest = this.queue.slice(this.head) as Job[];
    this.queue = rest.filter((j) => !match(j));
    this.head = 0;
    return rest.filter(match);
  }
}

/** A lane's limiter state, with what waits for it. */
export interface LaneStatus extends LaneSnapshot {
  backend: string;
  model: string;
  waiting: number;
  /** Durations of every finished call since start. */
  calls: LatencySummary | null;
}
