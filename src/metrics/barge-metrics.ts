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
/** Lanes counted in the upstream call metrics (models are client-chosen strings). */
const MAX_LANES = 2000;

interface LaneCalls {
  backend: string;
  model: string;
  kinds: Map<string, number>;
  /** Calls per latency bucket (not cumulative), in LATENCY_BUCKETS order; above the last only in `count`. */
  buckets: number[];
  sum: number;
  count: number;
}
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
  /** Upstream calls per lane, counted in plain numbers on the hot path and exported at scrape time. */
  private readonly lanes = new Map<string, LaneCalls>();
  private readonly rescues: Counter;
  private readonly ingestBytes: Counter;
  private readonly ingestSeconds: Histogram;
  private readonly ingestRequests: Counter;

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
    const lanes = this.lanes;
    this.registry.registerMetric({
      name: 'barge_upstream_calls_total',
      get: async () => ({
        name: 'barge_upstream_calls_total',
        help: 'Upstream calls by lane and how they ended (success, rate_limited = 429, overloaded = 529/503, timeout, network, server_error, client_error)',
        type: 'counter',
        aggregator: 'sum',
        values: [...lanes.values()].flatMap((l) =>
          [...l.kinds].map(([kind, value]) => ({
            labels: { backend: l.backend, model: l.model, kind },
            value,
          })),
        ),
      }),
    } as unknown as Parameters<Registry['registerMetric']>[0]);
    this.registry.registerMetric({
      name: 'barge_upstream_latency_seconds',
      get: async () => ({
        name: 'barge_upstream_latency_seconds',
        help: 'Upstream call latency by lane',
        type: 'histogram',
        aggregator: 'sum',
        values: [...lanes.values()].flatMap((l) => {
          const labels = { backend: l.backend, model: l.model };
          let cumulative = 0;
          const buckets = LATENCY_BUCKETS.map((le, i) => {
            cumulative += l.buckets[i]!;
            return {
              metricName: 'barge_upstream_latency_seconds_bucket',
              labels: { le, ...labels },
              value: cumulative,
            };
          });
          return [
            ...buckets,
            {
              metricName: 'barge_upstream_latency_seconds_bucket',
              labels: { le: '+Inf', ...labels },
              value: l.count,
            },
            { metricName: 'barge_upstream_latency_seconds_sum', labels, value: l.sum },
            { metricName: 'barge_upstream_latency_seconds_count', labels, value: l.count },
          ];
        }),
      }),
    } as unknown as Parameters<Registry['registerMetric']>[0]);
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
    // Plain numbers per lane: prom-client hashes a label object on every inc and observe, which measured ~5% of
    // the worker's CPU at thousands of calls per second. Exported as a counter and a histogram at scrape time.
    const key = `${backend}\0${model}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      if (this.lanes.size >= MAX_LANES) return; // models are client-chosen: beyond this, lanes go uncounted
      lane = {
        backend,
        model,
        kinds: new Map(),
        buckets: new Array(LATENCY_BUCKETS.length).fill(0),
        sum: 0,
        count: 0,
      };
      this.lanes.set(key, lane);
    }
    lane.kinds.set(kind, (lane.kinds.get(kind) ?? 0) + 1);
    const seconds = latencyMs / 1000;
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    if (i < LATENCY_BUCKETS.length) lane.buckets[i]!++;
    lane.sum += seconds;
    lane.count++;
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
