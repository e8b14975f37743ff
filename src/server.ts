import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './api/app.ts';
import { type BackendRoutes, singleBackendRoutes } from './backends/backend-routes.ts';
import { buildBackendRoutes } from './backends/build-backend-routes.ts';
import { MockBackend } from './backends/mock/mock-backend.ts';
import type { ModelBackend } from './backends/model-backend.ts';
import type { ServeConfig } from './config/config.ts';
import { type Clock, systemClock } from './domain/clock.ts';
import { createLogger } from './logger.ts';
import { BargeMetrics } from './metrics/barge-metrics.ts';
import { PriceTable } from './pricing/price-table.ts';
import { Sweeper } from './queue/sweeper.ts';
import { loadRoutingConfig } from './routing/load-routing-config.ts';
import { laneKey } from './routing/router.ts';
import { openStorage } from './store/open-store.ts';
import type { Store } from './store/store.ts';
import { Worker } from './worker/worker.ts';

export interface RunningServer {
  app: FastifyInstance;
  /** `http://host:port` the server listens on. */
  url: string;
  store: Store;
  worker: Worker;
  sweeper: Sweeper;
  logger: Logger;
  /** Graceful stop: stop accepting, let in-flight requests finish within the grace period, close storage. */
  close(): Promise<void>;
}

export interface ServerOverrides {
  clock?: Clock;
  backend?: ModelBackend;
  /** Backends and routes built by the caller (tests); otherwise from `--config`, or the mock model. */
  routes?: BackendRoutes;
  logger?: Logger;
  /** Tests may lower the body limit to exercise 413 without sending 256 MB. */
  maxBodyBytes?: number;
  /** Start the worker (default true); tests of queued states may hold it. */
  startWorker?: boolean;
  /** Start the periodic sweeper (default true); clock-driven tests call `sweeper.runOnce()` themselves. */
  startSweeper?: boolean;
}

/** The backends and routes: injected, from `--config`, or every model to the built-in mock; and the prices. */
function routesFor(
  config: ServeConfig,
  over: ServerOverrides,
): { routes: BackendRoutes; prices: PriceTable } {
  const file = config.configFile ? loadRoutingConfig(config.configFile, process.env) : null;
  const prices = new PriceTable(file?.prices ?? []);
  if (over.routes) return { routes: over.routes, prices };
  if (file && !over.backend) return { routes: buildBackendRoutes(file, config), prices };
  const backend =
    over.backend ?? new MockBackend({ latency: config.mockLatency, errorRate: config.mockErrorRate });
  // The built-in model needs no slow start; its injected faults end as errored results (one attempt), so demos
  // show every result type.
  const routes = singleBackendRoutes({
    name: backend.name,
    backend,
    laneLimits: { maxConcurrency: config.concurrency, initialConcurrency: config.concurrency },
    maxConcurrency: config.concurrency,
    maxAttempts: 1,
  });
  return { routes, prices };
}

/**
 * Starts a Barge process: the HTTP API, the worker and the sweeper for `--role all` (the default), or only the API
 * (`api`) or only the worker and sweeper (`worker`, which still serves `/healthz` and `/barge/v1/lanes`), on the
 * embedded SQLite store or a shared PostgreSQL database.
 */
export async function startServer(config: ServeConfig, over: ServerOverrides = {}): Promise<RunningServer> {
  const logger = over.logger ?? createLogger(config.logLevel);
  const clock = over.clock ?? systemClock;
  // Before anything is opened: a bad config file stops the start with its message and leaves nothing behind.
  const { routes, prices } = routesFor(config, over);
  const storage = await openStorage(config, logger);
  const { store, notifier } = storage;
  const runsApi = config.role !== 'worker';
  const runsWorker = config.role !== 'api';
  const onError = (err: unknown) => logger.error({ err }, 'background task failed');
  // The metrics read the worker's lanes at scrape time (the worker, created next, reports to the metrics).
  const metrics = new BargeMetrics({
    store,
    lanes: () =>
      worker.laneStatus().map((l) => ({
        backend: l.backend,
        model: l.model,
        inFlight: l.inFlight,
        limit: l.limit,
        waiting: l.waiting,
        paused: l.pausedUntil !== null,
      })),
    laneOf: (model) => {
      const target = routes.resolve(model);
      return target ? laneKey(target.name, model) : null;
    },
  });
  const worker = new Worker({
    observer: metrics,
    store,
    routes,
    clock,
    notifier,
    concurrency: config.concurrency,
    owner: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
    leaseMs: config.leaseMs,
    log: logger,
    onError,
  });
  const sweeper = new Sweeper({
    observer: metrics,
    store,
    clock,
    notifier,
    retentionMs: config.retentionMs,
    intervalMs: config.sweepIntervalMs,
    log: logger,
    onError,
  });
  const app = buildApp({
    store,
    clock,
    notifier,
    logger,
    auth: config.auth,
    publicUrl: config.publicUrl,
    batchTtlMs: config.batchTtlMs,
    lanes: () => worker.laneStatus(),
    batchApi: runsApi,
    metrics,
    prices,
    liveCounts: config.liveCounts,
    dashboard: config.dashboard,
    ...(over.maxBodyBytes !== undefined && { maxBodyBytes: over.maxBodyBytes }),
  });
  await app.listen({ host: config.host, port: config.port });
  logger.info(
    {
      config: config.configFile,
      backends: routes.all().map((r) => ({
        name: r.name,
        maxConcurrency: r.maxConcurrency,
        maxAttempts: r.maxAttempts,
      })),
    },
    'backends ready',
  );
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  if (runsWorker && over.startWorker !== false) worker.start();
  if (runsWorker && over.startSweeper !== false) sweeper.start();

  let closing: Promise<void> | null = null;
  return {
    app,
    url: `http://${host}:${port}`,
    store,
    worker,
    sweeper,
    logger,
    close() {
      closing ??= (async () => {
        // Stop accepting connections at once; requests already in progress (an upload, a download) get the same
        // grace period as in-flight model requests, then their connections are closed.
        const httpClosed = app.close();
        await sweeper.stop();
        await worker.stop(config.shutdownGraceMs);
        const force = setTimeout(() => app.server.closeAllConnections(), config.shutdownGraceMs);
        await httpClosed;
        clearTimeout(force);
        for (const r of routes.all()) await r.backend.close?.();
        await storage.close();
      })();
      return closing;
    },
  };
}
