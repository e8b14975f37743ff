import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from '../store/store.ts';

/** What the worker reports as it goes (a port, so the worker does not depend on prom-client). */
export interface DispatchObserver {
  claimed(n: number): void;
  /** One upstream call and how it ended (`laneOutcome` kinds: success, rate_limited, overloaded, timeout, …). */
  called(backend: string, model: string, kind: string, latencyMs: number): void;
  /** Results durably written by this worker, by outcome. */
  written(succeeded: number, errored: number): void;
}

/** The live figures of a worker's lanes, read at scrape time. */
export interface LaneGauges {
  backend: string;
  model: string;
  inFlight: number;
  limit: number;
  waiting: number;
  paused: boolean;
}

/** Where lane and queue figures come from at scrape time. */
export interface MetricsSources {
  store: Store;
  /** This process's lanes (empty for an API-only process). */
  lanes: () => LaneGauges[];
  /** The lane (`backend:model`) a queued model goes to, or null when no route takes it. */
  laneOf: (model: string) => string | null;
}

// Upstream calls of an instant mock answer in microseconds; a hosted model in tens of seconds.
const LATENCY_BUCKETS = [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Cached label children (lanes × outcome kinds); models are client-chosen, so the cache is bounded. */
const MAX_CHILDREN = 10_000;
const INGEST_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Barge's Prometheus metrics, in a registry of its own (nothing global). Counters count what this process did;
 * gauges of batches and queues are read from the store at scrape time, so every process of a cluster reports the
 * same cluster-wide figures for those (aggregate them with `max`, not `sum`).
 */
export class BargeMetrics implements DispatchObserver {
  readonly registry = new Registry();
  private readonly requests: Counter<'outcome'>;
  private readonly claims: Counter;
  private readonly calls: Counter<'backend' | 'model' | 'kind'>;
  private readonly latency: Histogram<'backend' | 'model'>;
  private readonly rescues: Counter;
  private readonly ingestBytes: Counter;
  private readonly ingestSeconds: Histogram;
  private readonly ingestRequests: Counter;
  private readonly children = new Map<
    string,
    { calls: { inc(): void }; latency: { observe(v: number): void } }
  >();

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'barge_requests_finished_total',
      help: 'Requests given their final result by this process, by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.claims = new Counter({
      name: 'barge_claims_total',
      help: 'Requests claimed by this worker',
      registers,
    });
    this.calls = new Counter({
      name: 'barge_upstream_calls_total',
      help: 'Upstream calls by lane and how they ended (success, rate_limited = 429, overloaded = 529/503, timeout, network, server_error, client_error)',
      labelNames: ['backend', 'model', 'kind'],
      registers,
    });
    this.latency = new Histogram({
      name: 'barge_upstream_latency_seconds',
      help: 'Upstream call latency by lane',
      labelNames: ['backend', 'model'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.rescues = new Counter({
      name: 'barge_lease_rescues_total',
      help: 'Claimed requests whose lease lapsed (their worker died or stalled) and that were queued again',
      registers,
    });
    this.ingestBytes = new Counter({
      name: 'barge_ingest_bytes_total',
      help: 'Bytes of accepted create bodies',
      registers,
    });
    this.ingestRequests = new Counter({
      name: 'barge_ingest_requests_total',
      help: 'Requests in accepted batches',
      registers,
    });
    this.ingestSeconds = new Histogram({
      name: 'barge_ingest_duration_seconds',
      help: 'Time from the start of a create request to its batch being stored',
      buckets: INGEST_BUCKETS,
      registers,
    });
    // Read at scrape time: one store query for batches and queues, the lanes from memory.
    let snapshot: Promise<Awaited<ReturnType<Store['queueStats']>>> | null = null;
    const stats = () => {
      snapshot ??= sources.store.queueStats().finally(() => {
        snapshot = null;
      });
      return snapshot;
    };
    new Gauge({
      name: 'barge_batches',
      help: 'Batches by processing status (cluster-wide)',
      labelNames: ['status'],
      registers,
      async collect() {
        const s = await stats();
        this.reset();
        for (const status of ['in_progress', 'canceling', 'ended'])
          this.set({ status }, s.batchesByStatus[status] ?? 0);
      },
    });
    new Gauge({
      name: 'barge_queue_depth',
      help: 'Queued requests by lane (cluster-wide; "unrouted" for models no route takes)',
      labelNames: ['lane'],
      registers,
      async collect() {
        const s = await stats();
        this.reset();
        const byLane = new Map<string, number>();
        for (const q of s.queuedByModel) {
          const lane = (q.model !== null && sources.laneOf(q.model)) || 'unrouted';
          byLane.set(lane, (byLane.get(lane) ?? 0) + q.queued);
        }
        for (const [lane, n] of byLane) this.set({ lane }, n);
      },
    });
    const laneGauge = (name: string, help: string, pick: (l: LaneGauges) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['backend', 'model'],
        registers,
        collect() {
          this.reset();
          for (const l of sources.lanes()) this.set({ backend: l.backend, model: l.model }, pick(l));
        },
      });
    laneGauge('barge_lane_in_flight', "Upstream calls in flight in this worker's lane", (l) => l.inFlight);
    laneGauge('barge_lane_concurrency_limit', "The lane limiter's current concurrency limit", (l) => l.limit);
    laneGauge('barge_lane_waiting', 'Claimed requests waiting in the lane for a slot', (l) => l.waiting);
    laneGauge('barge_lane_paused', '1 while the lane is paused (a 429 or a broadcast pause)', (l) =>
      l.paused ? 1 : 0,
    );
  }

  claimed(n: number): void {
    if (n > 0) this.claims.inc(n);
  }

  called(backend: string, model: string, kind: string, latencyMs: number): void {
    // Label children are looked up once per lane and kind: prom-client hashes a label object on every call, which
    // measured ~5% of the worker's CPU at thousands of calls per second.
    const key = `${backend}\0${model}\0${kind}`;
    let child = this.children.get(key);
    if (!child) {
      if (this.children.size >= MAX_CHILDREN) this.children.clear();
      child = {
        calls: this.calls.labels({ backend, model, kind }),
        latency: this.latency.labels({ backend, model }),
      };
      this.children.set(key, child);
    }
    child.calls.inc();
    child.latency.observe(latencyMs / 1000);
  }

  written(succeeded: number, errored: number): void {
    if (succeeded) this.requests.inc({ outcome: 'succeeded' }, succeeded);
    if (errored) this.requests.inc({ outcome: 'errored' }, errored);
  }

  /** A sweeper pass: requests it canceled or expired, and leases it rescued. */
  swept(report: { canceled: number; expired: number; rescued: number }): void {
    if (report.canceled) this.requests.inc({ outcome: 'canceled' }, report.canceled);
    if (report.expired) this.requests.inc({ outcome: 'expired' }, report.expired);
    if (report.rescued) this.rescues.inc(report.rescued);
  }

  /** An accepted create: its body size, request count and how long it took. */
  ingested(bytes: number, requests: number, ms: number): void {
    this.ingestBytes.inc(bytes);
    this.ingestRequests.inc(requests);
    this.ingestSeconds.observe(ms / 1000);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
