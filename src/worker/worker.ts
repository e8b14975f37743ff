import type { Logger } from 'pino';
import { AttemptDeadline } from '../backends/attempt-signal.ts';
import type { BackendRoutes, RoutedBackend } from '../backends/backend-routes.ts';
import { CallAbort } from '../backends/call-signal.ts';
import type { BackendOutcome, BackendRequest } from '../backends/model-backend.ts';
import type { Permit } from '../dispatch/lane-limiter.ts';
import type { Clock } from '../domain/clock.ts';
import { type TokenUsage, usageOfMessage } from '../domain/token-usage.ts';
import { EarliestTimer } from '../internal/earliest-timer.ts';
import type { DispatchObserver } from '../metrics/barge-metrics.ts';
import { decodeLanePause, encodeLanePause, type Notifier } from '../queue/notifier.ts';
import { laneKey } from '../routing/router.ts';
import { isStorageUnavailable } from '../store/storage-unavailable.ts';
import type { ClaimedItem, Completion, Retry, Store } from '../store/store.ts';
import { parseBetas } from '../wire/headers.ts';
import { estimateInputTokens } from '../wire/input-tokens.ts';
import { erroredLine, succeededLine } from '../wire/result-line.ts';
import { type Job, Lane, type LaneStatus } from './lane.ts';
import { laneOutcome } from './lane-outcome.ts';
import { checkParams, parseParams } from './prepare-item.ts';
import { decideRetry } from './retry-policy.ts';

export interface WorkerOptions {
  store: Store;
  routes: BackendRoutes;
  clock: Clock;
  notifier: Notifier;
  /** Requests in flight at once, across every backend. */
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
  /** Most lanes kept; idle ones beyond this are forgotten (models are client-chosen strings). */
  maxLanes?: number;
  random?: () => number;
  log?: Pick<Logger, 'info' | 'debug'>;
  onError?: (err: unknown) => void;
  /** Told of claims, upstream calls and written results (the metrics). */
  observer?: DispatchObserver;
}

/**
 * Fewest claimed requests kept waiting beside the running ones. At a low concurrency a buffer of `concurrency` is
 * one or two requests, and a call that answers faster than a claim's round trip to storage leaves its slot idle
 * (measured at concurrency 1: the next request waited for a claim after ~10% of calls).
 */
const MIN_READY = 16;

/** Whether `models` holds every model of `set`. */
function coversAll(models: readonly string[], set: ReadonlySet<string>): boolean {
  for (const m of set) if (!models.includes(m)) return false;
  return true;
}

/** A job's attempt deadline (a module function, so launching a job creates no closure for its timer). */
function abortAtDeadline(ctl: CallAbort, ms: number): void {
  ctl.abort(new AttemptDeadline(ms));
}
/** Longest stretch of dispatching in one event-loop turn (as the ingest's and download's time slices). */
const SLICE_MS = 8;
/** Flush attempts while storage is unavailable (about a minute with the backoff) before leaving it to lease rescue. */
const MAX_FLUSH_RETRIES = 40;
/** How often a worker reports itself for the dashboard's overview of workers (one row written). */
const REPORT_EVERY_MS = 5000;
/** Lanes a worker reports for the dashboard's overview. */
const MAX_REPORTED_LANES = 100;

/**
 * The worker loop: claim -> route to a (backend, model) lane -> wait for the lane's limiter -> call the backend ->
 * write the result line, or requeue the request for a later attempt.
 *
 * Claimed requests wait in their lane, never in a shared line, so a lane with no budget (paused by a 429, out of
 * tokens, at its concurrency) never holds up another: claims skip its model once it has enough waiting, and one
 * dispatch loop hands free slots round-robin to the lanes whose limiter admits a request. Claims and result writes
 * are batched (graphile's completeJobBatchDelay, River's BatchCompleter): one transaction per many requests.
 */
export class Worker {
  private readonly o: Required<Omit<WorkerOptions, 'onError' | 'log' | 'observer'>> &
    Pick<WorkerOptions, 'onError' | 'log' | 'observer'>;
  /** Every claimed request not yet finished: waiting in a lane or running. */
  private readonly jobs = new Map<number, Job>();
  private readonly lanes = new Map<string, Lane>();
  /** Pauses told by other workers for lanes not open here yet: lane key to epoch ms. */
  private readonly remotePauses = new Map<string, number>();
  /** Lanes with waiting requests, in round-robin order. */
  private active: Lane[] = [];
  private readonly load = new Map<string, number>();
  private running = 0;
  private pending: Completion[] = [];
  /** Items whose result or retry is being written right now. */
  private readonly writing = new Set<number>();
  private retries: Retry[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private pollTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private reportTimer: NodeJS.Timeout | null = null;
  /** Dispatches again when the earliest waiting lane's limiter will admit its next request. */
  private readonly readyTimer = new EarliestTimer(() => this.dispatch());
  /** Claims again when the earliest requeued request becomes claimable. */
  private readonly retryTimer = new EarliestTimer(() => this.wake());
  /**
   * What short claims told: no request of any model outside this set was left claimable (empty: none at all). It
   * holds until new work may have come (a new batch, a retry come due, the idle poll, which also covers other
   * processes), so until then a claim that skips at least these models would find nothing, after reading every
   * queued request of the batch to check its model (measured: 35 ms on a 100,000-request batch, inside a write
   * transaction). At low concurrency, where a lane soon has enough waiting to be skipped, that was most claims.
   */
  private exhaustedBeyond: ReadonlySet<string> | null = null;
  /** Counts `wake` calls, so a claim that was in flight across one does not restore what it cleared. */
  private workEpoch = 0;
  private scheduled = false;
  private startedAt = 0;
  /** A claim was skipped because too many results were unwritten; the next flush wakes the pump. */
  private heldBack = false;
  /** Consecutive flushes that failed because storage was unavailable. */
  private flushFailures = 0;
  private sliceOpen = false;
  private sliceStart = 0;
  private dispatchDeferred = false;
  private claiming = false;
  /** A wake-up arrived while a claim was in flight. */
  private pumpAgain = false;
  /** Claimed requests kept waiting in lanes beside the running ones. */
  private readonly ready: number;
  private stopping = false;
  private started = false;
  private drained: (() => void) | null = null;
  private readonly unsubscribe: Array<() => void> = [];
  /** Requests finished by this worker (for metrics and tests). */
  completed = 0;

  constructor(opts: WorkerOptions) {
    this.o = {
      leaseMs: 60_000,
      pollMs: 1000,
      flushSize: 500,
      flushDelayMs: 10,
      maxLanes: 1000,
      random: Math.random,
      ...opts,
    };
    this.ready = Math.max(this.o.concurrency, MIN_READY);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.unsubscribe.push(this.o.notifier.on('batch-ready', () => this.wake()));
    this.unsubscribe.push(this.o.notifier.on('batch-expired', (id) => this.abortBatch(id)));
    this.unsubscribe.push(this.o.notifier.on('batch-canceled', (id) => this.unclaimBatch(id)));
    this.unsubscribe.push(this.o.notifier.on('lane-paused', (p) => this.remotePause(p)));
    this.startedAt = this.o.clock.now();
    this.report();
    this.heartbeatTimer = setInterval(
      () => {
        this.o.store
          .heartbeat(this.o.owner, this.o.clock.now(), this.o.leaseMs, this.heldItems())
          .catch((e) => this.o.onError?.(e));
      },
      Math.min(2 ** 31 - 1, Math.max(1000, Math.floor(this.o.leaseMs / 3))),
    );
    this.heartbeatTimer.unref();
    this.reportTimer = setInterval(() => this.report(), REPORT_EVERY_MS);
    this.reportTimer.unref();
    this.pumpSoon();
  }

  /** Tells the store how this worker is doing, for the dashboard's overview of workers. */
  private report(): void {
    this.o.store
      .reportWorker({
        owner: this.o.owner,
        startedAt: this.startedAt,
        seenAt: this.o.clock.now(),
        concurrency: this.o.concurrency,
        running: this.running,
        held: this.heldItems().length,
        // The busiest lanes only: models are client-chosen, and the report is one row.
        lanes: this.laneStatus()
          .sort((a, b) => b.inFlight + b.waiting - (a.inFlight + a.waiting))
          .slice(0, MAX_REPORTED_LANES)
          .map((l) => ({
            backend: l.backend,
            model: l.model,
            inFlight: l.inFlight,
            limit: l.limit,
            waiting: l.waiting,
            pausedUntil: l.pausedUntil,
          })),
      })
      .catch((e) => this.o.onError?.(e));
  }

  /**
   * Requests that no earlier claim could see may be claimable now (a new batch, a retry come due, the idle poll):
   * claim soon. What the API's batch-ready notification calls.
   */
  wake(): void {
    this.exhaustedBeyond = null;
    this.workEpoch++;
    this.pumpSoon();
  }

  /** Something may have changed what to claim (a slot freed, a lane drained): run the pump soon. */
  private pumpSoon(): void {
    if (this.scheduled || this.stopping || !this.started) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.pump();
    });
  }

  /** Requests claimed and not finished (running or waiting for their lane). */
  get activeCount(): number {
    return this.jobs.size;
  }

  /** Items this worker still holds in storage: claimed and unfinished, or finished with the write not yet done. */
  private heldItems(): number[] {
    const ids = [...this.jobs.keys()];
    for (const c of this.pending) ids.push(c.itemId);
    for (const r of this.retries) ids.push(r.itemId);
    for (const c of this.writing) ids.push(c);
    return ids;
  }

  /** The loop's own state, for diagnosing a batch that stops making progress. */
  state(): Record<string, unknown> {
    return {
      jobs: this.jobs.size,
      running: this.running,
      load: Object.fromEntries(this.load),
      activeLanes: this.active.map((l) => ({
        lane: l.key,
        waiting: l.waiting,
        inFlight: l.limiter.inFlight,
        limit: l.limiter.limit,
        pausedUntil: l.limiter.pausedUntil,
      })),
      claiming: this.claiming,
      scheduled: this.scheduled,
      stopping: this.stopping,
      pendingResults: this.pending.length,
      pendingRetries: this.retries.length,
      timers: {
        poll: this.pollTimer !== null,
        ready: this.readyTimer.pending,
        retry: this.retryTimer.pending,
        flush: this.flushTimer !== null,
      },
    };
  }

  /** Per-lane dispatch figures, for metrics, the dashboard and logs. */
  laneStatus(): LaneStatus[] {
    return [...this.lanes.values()].map((l) => ({
      ...l.limiter.snapshot(),
      backend: l.target.name,
      model: l.model,
      waiting: l.waiting,
      calls: l.calls.summary(),
    }));
  }

  private async pump(): Promise<void> {
    if (this.stopping) return;
    if (this.claiming) {
      // The claim in flight was sized before this wake-up: claim again once it is back, or a lane that ran dry
      // meanwhile (its model skipped by that claim) waited for the next idle poll (found at concurrency 1: stalls
      // of up to a second).
      this.pumpAgain = true;
      return;
    }
    // Up to `concurrency` running plus `ready` waiting in lanes, so a freed slot never waits for a claim. Claims
    // are write transactions: take them in chunks of half the ready slots, or sooner when the lanes are running dry.
    // Finished requests whose write is still pending count too once they exceed a flush's worth (or twice the
    // concurrency): when storage falls behind (a busy shared database), the worker stops claiming instead of piling
    // up unwritten results. With less slack the lanes ran dry whenever one flush waited for its fsync.
    const unwritten = this.pending.length + this.writing.size;
    const backlog = Math.max(0, unwritten - Math.max(2 * this.o.concurrency, this.o.flushSize));
    const free = this.o.concurrency + this.ready - this.jobs.size - backlog;
    const waiting = this.jobs.size - this.running;
    if (free <= 0) {
      // Held back by unwritten results: the flush that writes them wakes the pump again.
      if (backlog > 0) this.heldBack = true;
      return;
    }
    if (this.jobs.size > 0 && free < this.ready >> 1 && waiting >= this.ready >> 2) return;
    const skipModels = this.busyModels();
    if (this.exhaustedBeyond && coversAll(skipModels, this.exhaustedBeyond)) {
      this.armPoll();
      return;
    }
    const epoch = this.workEpoch;
    this.claiming = true;
    let items: ClaimedItem[] = [];
    try {
      items = await this.o.store.claim({
        owner: this.o.owner,
        limit: free,
        now: this.o.clock.now(),
        leaseMs: this.o.leaseMs,
        skipModels,
      });
      if (items.length < free && epoch === this.workEpoch) {
        // Nothing outside the skipped models was left; with what was known before, nothing outside both sets.
        const known = this.exhaustedBeyond;
        this.exhaustedBeyond = new Set(known ? skipModels.filter((m) => known.has(m)) : skipModels);
      }
    } catch (err) {
      this.o.onError?.(err);
    } finally {
      this.claiming = false;
    }
    if (this.stopping) {
      await this.o.store.release(items.map((i) => ({ itemId: i.itemId, attempt: i.attempt })));
      return;
    }
    this.o.observer?.claimed(items.length);
    for (const item of items) this.accept(item);
    this.dispatch();
    if (this.pumpAgain) {
      this.pumpAgain = false;
      this.pumpSoon();
    } else if (items.length === 0) this.armPoll();
  }

  /** Models whose lane already holds enough waiting requests, or cannot send any now. */
  private busyModels(): string[] {
    const out: string[] = [];
    const now = this.o.clock.now();
    for (const l of this.active) {
      const w = l.waiting;
      if (w === 0) continue;
      const blocked =
        l.limiter.pausedUntil > now || (l.limiter.inFlight < l.limiter.limit && !l.limiter.hasBudget());
      if (blocked || w >= Math.max(1, l.limiter.limit, this.ready >> 2)) out.push(l.model);
    }
    return out;
  }

  private armPoll(): void {
    if (this.pollTimer || this.stopping) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      this.wake();
    }, this.o.pollMs);
    this.pollTimer.unref();
  }

  /** A claimed request: checked, routed to its lane, queued there. */
  private accept(item: ClaimedItem): void {
    const raw = parseParams(item);
    const named = (raw as { model?: unknown } | undefined)?.model;
    const target = typeof named === 'string' && named !== '' ? this.o.routes.resolve(named) : null;
    const prepared = checkParams(raw, item.apiVersion, target?.passThroughUnknownParams === true);
    if (!prepared.ok) {
      this.finalize(item, 'errored', erroredLine(item.customId, 'invalid_request_error', prepared.message));
      return;
    }
    const params = prepared.params;
    const model = params.model as string;
    if (!target) {
      const message = `model: no backend is configured for model "${model}" (no route in the Barge configuration matches it)`;
      this.finalize(item, 'errored', erroredLine(item.customId, 'invalid_request_error', message));
      return;
    }
    const lane = this.laneFor(target, model);
    const job: Job = {
      item,
      params,
      request: { inputTokens: estimateInputTokens(params), maxOutputTokens: params.max_tokens as number },
      lane,
      ctl: new CallAbort(),
      permit: null,
    };
    this.jobs.set(item.itemId, job);
    if (lane.waiting === 0) this.active.push(lane);
    lane.push(job);
  }

  private laneFor(target: RoutedBackend, model: string): Lane {
    const key = laneKey(target.name, model);
    let lane = this.lanes.get(key);
    if (!lane) {
      if (this.lanes.size >= this.o.maxLanes) this.forgetIdleLanes();
      lane = new Lane(key, model, target, this.o.clock, this.o.random);
      this.lanes.set(key, lane);
      const told = this.remotePauses.get(key);
      if (told !== undefined) lane.limiter.pauseUntil(told, 'remote');
    }
    return lane;
  }

  /**
   * Another worker's upstream paused a lane (PostgreSQL clusters): pause it here too, or remember the pause for a
   * lane this worker has not opened yet, so no process keeps sending into a 429.
   */
  private remotePause(payload: string): void {
    const p = decodeLanePause(payload);
    if (!p || p.untilMs <= this.o.clock.now()) return;
    const lane = this.lanes.get(p.lane);
    if (lane) lane.limiter.pauseUntil(p.untilMs, 'remote');
    else {
      const now = this.o.clock.now();
      for (const [k, until] of this.remotePauses) if (until <= now) this.remotePauses.delete(k);
      if (this.remotePauses.size < this.o.maxLanes) this.remotePauses.set(p.lane, p.untilMs);
    }
  }

  private forgetIdleLanes(): void {
    for (const [key, l] of this.lanes) {
      if (l.waiting === 0 && l.limiter.inFlight === 0) this.lanes.delete(key);
    }
  }

  /**
   * Whether this event-loop turn has run long enough: an instant backend (the built-in model at 0 ms) answers in a
   * microtask, so without a bound one turn would chain claim -> run -> finish -> run the next for every waiting
   * request while API requests wait.
   */
  private sliceUsedUp(): boolean {
    const now = performance.now();
    if (!this.sliceOpen) {
      this.sliceOpen = true;
      this.sliceStart = now;
      setImmediate(() => {
        this.sliceOpen = false;
      });
      return false;
    }
    return now - this.sliceStart > SLICE_MS;
  }

  /** Hands free slots to lanes, round-robin, as their limiters and backends admit requests. */
  private dispatch(): void {
    if (this.stopping) return;
    if (this.sliceUsedUp()) {
      if (!this.dispatchDeferred) {
        this.dispatchDeferred = true;
        setImmediate(() => {
          this.dispatchDeferred = false;
          this.dispatch();
        });
      }
      return;
    }
    let launched = true;
    while (launched && this.running < this.o.concurrency) {
      launched = false;
      for (let i = 0; i < this.active.length && this.running < this.o.concurrency; ) {
        const lane = this.active[i]!;
        if (lane.waiting === 0) {
          this.active.splice(i, 1);
          continue;
        }
        i++;
        if ((this.load.get(lane.target.name) ?? 0) >= lane.target.maxConcurrency) continue;
        const permit = lane.limiter.tryAcquire(lane.peek()!.request);
        if (!permit) continue;
        this.launch(lane.shift(), permit);
        launched = true;
      }
    }
    if (this.active.length > 0) this.armReady();
  }

  /** Wakes the dispatch loop when the earliest waiting lane's limiter will admit its next request. */
  private armReady(): void {
    const now = this.o.clock.now();
    let at = Number.POSITIVE_INFINITY;
    for (const lane of this.active) {
      const job = lane.peek();
      if (!job) continue;
      const t = lane.limiter.readyAt(job.request);
      if (t !== null && t > now && t < at) at = t;
    }
    if (at !== Number.POSITIVE_INFINITY) this.readyTimer.set(at, now);
  }

  private launch(job: Job, permit: Permit): void {
    const { item, lane } = job;
    job.permit = permit;
    this.running++;
    this.load.set(lane.target.name, (this.load.get(lane.target.name) ?? 0) + 1);
    const request: BackendRequest = {
      customId: item.customId,
      params: job.params,
      rawParams: item.params,
      apiVersion: item.apiVersion,
      betas: parseBetas(item.betas ?? undefined),
      attempt: item.attempt,
      signal: job.ctl,
    };
    // The worker owns the attempt deadline when the backend has one: its timer aborts the job's own signal, so the
    // backend needs no controller of its own (see attempt-signal.ts).
    const deadlineMs = lane.target.attemptTimeoutMs;
    if (deadlineMs !== undefined) {
      request.deadlineOnSignal = true;
      job.deadline = setTimeout(abortAtDeadline, deadlineMs, job.ctl, deadlineMs);
    }
    const t0 = performance.now();
    let call: Promise<BackendOutcome>;
    try {
      call = lane.target.backend.send(request);
    } catch (err) {
      call = Promise.reject(err);
    }
    call.then(
      (outcome) => this.settle(job, outcome, performance.now() - t0),
      (err: unknown) =>
        this.settle(job, err instanceof Error ? err : new Error(String(err)), performance.now() - t0),
    );
  }

  private settle(job: Job, result: BackendOutcome | Error, latencyMs: number): void {
    const { item, lane } = job;
    this.running--;
    this.load.set(lane.target.name, (this.load.get(lane.target.name) ?? 1) - 1);
    this.jobs.delete(item.itemId);
    const permit = job.permit!;
    if (job.deadline) clearTimeout(job.deadline);
    const reason: unknown = job.ctl.reason;
    if (reason instanceof AttemptDeadline && result instanceof Error) {
      // A backend that does not report deadlines itself (it threw on the abort): the same transient timeout.
      result = {
        type: 'errored',
        error: {
          type: 'timeout_error',
          message: `${lane.target.name} did not answer within ${reason.ms} ms`,
        },
        retryable: true,
        upstream: { status: 'timeout', latencyMs },
      };
    }
    if (job.ctl.aborted && !(reason instanceof AttemptDeadline)) {
      // Shutdown or expiry: no verdict on the upstream. On shutdown the request goes back to the queue; an expired
      // one is already final, so the fenced release changes nothing.
      permit.release({ kind: 'abandoned', latencyMs });
      this.releaseItems([item]);
    } else if (result instanceof Error) {
      permit.release({ kind: 'network', latencyMs });
      this.o.observer?.called(lane.target.name, lane.model, 'network', latencyMs);
      const message = `backend ${lane.target.name} failed: ${result.message}`;
      this.finalize(item, 'errored', erroredLine(item.customId, 'api_error', message));
    } else {
      lane.calls.add(latencyMs);
      const pausedBefore = lane.limiter.pausedUntil;
      const verdict = laneOutcome(result, latencyMs);
      permit.release(verdict);
      this.o.observer?.called(lane.target.name, lane.model, verdict.kind, latencyMs);
      this.record(item, lane, result, pausedBefore);
    }
    if (this.running === 0 && this.drained) this.drained();
    this.dispatch();
    this.pumpSoon();
  }

  /** The verdict on a finished call: a result line, or a retry. */
  private record(item: ClaimedItem, lane: Lane, outcome: BackendOutcome, pausedBefore: number): void {
    if (outcome.type === 'succeeded') {
      this.finalize(
        item,
        'succeeded',
        succeededLine(item.customId, outcome.message, outcome.raw),
        usageOfMessage(outcome.message.usage),
      );
      return;
    }
    const now = this.o.clock.now();
    const pausedUntil = lane.limiter.pausedUntil;
    if (pausedUntil > pausedBefore && pausedUntil > now) {
      this.o.log?.info(
        { lane: lane.key, pausedMs: pausedUntil - now, error: outcome.error.type },
        'lane paused by the upstream',
      );
      this.o.notifier.notify('lane-paused', encodeLanePause({ lane: lane.key, untilMs: pausedUntil }));
    }
    const decision = decideRetry(outcome, {
      attempt: item.attempt,
      maxAttempts: lane.target.maxAttempts,
      now,
      laneReopensAt: pausedUntil,
      random: this.o.random,
    });
    const { type, message } = outcome.error;
    if (decision.kind === 'final') {
      this.o.log?.debug(
        { lane: lane.key, customId: item.customId, attempt: item.attempt, error: type },
        'request failed',
      );
      this.finalize(item, 'errored', erroredLine(item.customId, type, decision.message));
      return;
    }
    this.retries.push({
      itemId: item.itemId,
      attempt: item.attempt,
      runAt: decision.runAt,
      countAttempt: decision.countAttempt,
      error: `${type}: ${message}`.slice(0, 1000),
    });
    this.scheduleFlush(this.retries.length);
  }

  private finalize(
    item: ClaimedItem,
    outcome: Completion['outcome'],
    line: string,
    usage?: TokenUsage,
  ): void {
    const c: Completion = {
      itemId: item.itemId,
      batchSeq: item.batchSeq,
      attempt: item.attempt,
      outcome,
      line,
    };
    if (usage) {
      c.model = item.model;
      c.usage = usage;
    }
    this.pending.push(c);
    this.completed++;
    this.scheduleFlush(this.pending.length);
  }

  private scheduleFlush(waiting: number): void {
    if (waiting >= this.o.flushSize) void this.flush();
    else if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), this.o.flushDelayMs);
  }

  /** A requeued request becomes claimable at `at`: claim then, not at the next idle poll. */
  private wakeAt(at: number): void {
    if (!this.stopping) this.retryTimer.set(at, this.o.clock.now());
  }

  private releaseItems(items: ClaimedItem[]): void {
    if (items.length === 0) return;
    void this.o.store
      .release(items.map((i) => ({ itemId: i.itemId, attempt: i.attempt })))
      .catch((e) => this.o.onError?.(e));
  }

  /** Writes waiting retries and results, one transaction each; flushes are serialised. */
  flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const completions = this.pending;
    const retries = this.retries;
    this.pending = [];
    this.retries = [];
    if (completions.length === 0 && retries.length === 0) return this.flushing;
    const ids = [...completions.map((c) => c.itemId), ...retries.map((r) => r.itemId)];
    for (const id of ids) this.writing.add(id);
    this.flushing = this.flushing.then(async () => {
      try {
        if (retries.length) {
          await this.o.store.retry(retries);
          // Armed once they are written: a timer armed at the decision could fire before the write, when the
          // request was not claimable yet.
          this.wakeAt(retries.reduce((at, r) => Math.min(at, r.runAt), Number.POSITIVE_INFINITY));
        }
        if (completions.length) {
          const ended = await this.o.store.complete(completions, this.o.clock.now());
          for (const id of ended) this.o.notifier.notify('batch-ended', id);
          if (this.o.observer) {
            const ok = completions.reduce((n, c) => n + (c.outcome === 'succeeded' ? 1 : 0), 0);
            this.o.observer.written(ok, completions.length - ok);
          }
        }
        this.flushFailures = 0;
      } catch (err) {
        if (isStorageUnavailable(err) && this.flushFailures < MAX_FLUSH_RETRIES) {
          // A database restart or failover: keep the finished work and write it again shortly. Completions are
          // fenced, so writing late is safe even if a lease lapsed meanwhile and the request ran elsewhere.
          this.flushFailures++;
          this.pending.unshift(...completions);
          this.retries.unshift(...retries);
          for (const id of ids) this.writing.delete(id);
          const delay = Math.min(2000, 100 * 2 ** this.flushFailures);
          if (this.flushTimer) clearTimeout(this.flushTimer);
          this.flushTimer = setTimeout(() => this.flush(), delay);
          this.o.onError?.(err);
          return;
        }
        // The items stay claimed in storage; no longer renewed, their leases lapse and the sweeper rescues them.
        this.o.onError?.(err);
      } finally {
        for (const id of ids) this.writing.delete(id);
        if (this.heldBack) {
          this.heldBack = false;
          this.pumpSoon();
        }
      }
    });
    return this.flushing;
  }

  /** Takes the waiting (not running) requests of a batch out of their lanes. */
  private takeWaiting(batchId: string): ClaimedItem[] {
    const out: ClaimedItem[] = [];
    for (const lane of this.active) {
      for (const job of lane.remove((j) => j.item.batchId === batchId)) {
        this.jobs.delete(job.item.itemId);
        out.push(job.item);
      }
    }
    return out;
  }

  /**
   * An expired batch: its requests are already final in storage, so waiting ones are dropped and in-flight calls
   * aborted at once (their late answers would be fenced out anyway), freeing their slots.
   */
  abortBatch(batchId: string): void {
    this.takeWaiting(batchId);
    for (const job of this.jobs.values()) {
      if (job.item.batchId === batchId) job.ctl.abort(new Error('batch expired'));
    }
  }

  /** A canceled batch: requests not yet sent go back to the queue, where the sweeper cancels them. */
  private unclaimBatch(batchId: string): void {
    this.releaseItems(this.takeWaiting(batchId));
  }

  /**
   * Graceful stop: claim nothing more, return waiting requests to the queue, give running ones up to `graceMs` to
   * finish, abort the rest (they go back to the queue too), and write every finished result.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.readyTimer.clear();
    this.retryTimer.clear();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.reportTimer) clearInterval(this.reportTimer);
    const waiting: ClaimedItem[] = [];
    for (const lane of this.active) for (const job of lane.remove(() => true)) waiting.push(job.item);
    for (const item of waiting) this.jobs.delete(item.itemId);
    this.releaseItems(waiting);
    if (this.running > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs);
        this.drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    for (const job of this.jobs.values()) job.ctl.abort(new Error('shutting down'));
    // Aborted runs settle on the next ticks; wait for them so their items are released.
    while (this.running > 0) await new Promise((r) => setImmediate(r));
    await this.flush();
  }
}
