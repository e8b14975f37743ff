import { Command, Option } from 'commander';
import { DEFAULT_SERVE_CONFIG, type ServeConfig, validateServeConfig } from '../config/config.ts';
import { formatDuration, parseDuration, parseDurationRange } from '../domain/duration.ts';

/** An option whose environment variable is `BARGE_` + the flag in capitals. */
export function envOption(flags: string, description: string): Option {
  const long = /--([a-z0-9-]+)/.exec(flags)![1]!;
  return new Option(flags, description).env(`BARGE_${long.replace(/-/g, '_').toUpperCase()}`);
}

function int(name: string) {
  return (v: string) => {
    if (!/^\d+$/.test(v.trim())) throw new Error(`--${name} must be a whole number, got "${v}"`);
    return Number(v);
  };
}

/** The PostgreSQL tuning flags, shared by `serve`, `migrate` and `keys`. */
export function addPgOptions(cmd: Command): Command {
  const d = DEFAULT_SERVE_CONFIG.pg;
  for (const option of [
    envOption('--pg-pool-size <n>', 'PostgreSQL connections per process')
      .default(d.poolSize)
      .argParser(int('pg-pool-size')),
    envOption(
      '--pg-statement-timeout <duration>',
      'longest any one SQL statement may run (0 for no limit)',
    ).default(formatDuration(d.statementTimeoutMs)),
    envOption('--pg-connect-timeout <duration>', 'how long to wait for a PostgreSQL connection').default(
      formatDuration(d.connectTimeoutMs),
    ),
    envOption('--pg-schema <name>', "schema to keep Barge's tables in (default: public)"),
  ])
    cmd.addOption(option);
  return cmd;
}

/** The parsed values of `addPgOptions`' flags. */
export function pgSettings(o: {
  pgPoolSize: number;
  pgStatementTimeout: string;
  pgConnectTimeout: string;
  pgSchema?: string;
}): ServeConfig['pg'] {
  return {
    poolSize: o.pgPoolSize,
    statementTimeoutMs: o.pgStatementTimeout === '0' ? 0 : parseDuration(o.pgStatementTimeout),
    connectTimeoutMs: parseDuration(o.pgConnectTimeout),
    schema: o.pgSchema ?? null,
  };
}

/** `barge serve`: the API server with an in-process worker. */
export function serveCommand(): Command {
  const d = DEFAULT_SERVE_CONFIG;
  const cmd = new Command('serve')
    .description(
      'Run the Message Batches API server with an in-process worker (SQLite, mock model by default)',
    )
    .addOption(envOption('--host <host>', 'interface to listen on').default(d.host))
    .addOption(
      envOption('--port <port>', 'port to listen on (0 picks a free one)')
        .default(d.port)
        .argParser(int('port')),
    )
    .addOption(envOption('--data-dir <dir>', 'where the SQLite database lives').default(d.dataDir))
    .addOption(
      envOption('--concurrency <n>', 'requests in flight against the model backend')
        .default(d.concurrency)
        .argParser(int('concurrency')),
    )
    .addOption(envOption('--batch-ttl <duration>', 'time from creation to expiry').default('24h'))
    .addOption(
      envOption('--retention <duration>', 'time from creation until results are archived').default(
        formatDuration(d.retentionMs),
      ),
    )
    .addOption(
      envOption('--public-url <url>', 'base URL for results_url (default: derived from each request)'),
    )
    .addOption(
      envOption('--auth <mode>', 'none (any key, one workspace) or keys')
        .choices(['none', 'keys'])
        .default(d.auth),
    )
    .addOption(
      envOption('--allow-unauthenticated-remote', 'allow --auth none on a non-loopback --host').default(
        false,
      ),
    )
    .addOption(
      envOption(
        '--mock-latency <duration>',
        'mock model latency: 200ms, or a range 50ms-500ms (0ms for instant)',
      ).default('100ms-1s'),
    )
    .addOption(
      envOption(
        '--mock-error-rate <rate>',
        'share of mock requests that fail with api_error/overloaded_error (0 to 1)',
      )
        .default(0)
        .argParser(Number),
    )
    .addOption(
      envOption(
        '--shutdown-grace <duration>',
        'on SIGINT/SIGTERM, how long in-flight requests may take to finish',
      ).default(formatDuration(d.shutdownGraceMs)),
    )
    .addOption(
      envOption(
        '--config <file>',
        'backends and routes (JSON or YAML; see the README); without it every request goes to the mock model',
      ),
    )
    .addOption(envOption('--no-dashboard', 'do not serve the web dashboard at /dashboard'))
    .addOption(
      envOption(
        '--live-counts',
        'show outcome counts in request_counts while a batch runs (the hosted API shows them only at the end)',
      ).default(false),
    )
    .addOption(
      envOption(
        '--lease <duration>',
        "how long a worker holds a claimed request without renewing it; a dead worker's requests run again after this",
      ).default(formatDuration(d.leaseMs)),
    )
    .addOption(
      envOption(
        '--sweep-interval <duration>',
        'time between sweeper passes (lease rescue, expiry, cancellation, retention)',
      ).default(formatDuration(d.sweepIntervalMs)),
    )
    .addOption(
      envOption(
        '--database-url <url>',
        'PostgreSQL (postgres://user:pass@host:5432/db) shared by every process of a cluster; without it, SQLite in --data-dir',
      ),
    )
    .addOption(
      envOption('--role <role>', 'api (HTTP API only), worker (worker and sweeper only) or all')
        .choices(['api', 'worker', 'all'])
        .default(d.role),
    )
    .addOption(
      envOption('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default(d.logLevel),
    );
  return addPgOptions(cmd).action(async (o) => {
    const config = validateServeConfig({
      ...d,
      host: o.host,
      port: o.port,
      dataDir: o.dataDir,
      concurrency: o.concurrency,
      batchTtlMs: parseDuration(o.batchTtl),
      retentionMs: parseDuration(o.retention),
      publicUrl: o.publicUrl ?? null,
      auth: o.auth,
      allowUnauthenticatedRemote:
        o.allowUnauthenticatedRemote === true || o.allowUnauthenticatedRemote === 'true',
      mockLatency: parseDurationRange(o.mockLatency),
      mockErrorRate: o.mockErrorRate,
      shutdownGraceMs: parseDuration(o.shutdownGrace),
      logLevel: o.logLevel,
      configFile: o.config ?? null,
      dashboard: o.dashboard !== false && o.dashboard !== 'false',
      liveCounts: o.liveCounts === true || o.liveCounts === 'true',
      leaseMs: parseDuration(o.lease),
      sweepIntervalMs: parseDuration(o.sweepInterval),
      databaseUrl: o.databaseUrl ?? null,
      role: o.role,
      pg: pgSettings(o),
    } satisfies ServeConfig);
    // Loaded here so that other commands (keys) do not pay for loading the server.
    const { startServer } = await import('../server.ts');
    const server = await startServer(config);
    server.logger.info(
      {
        url: server.url,
        role: config.role,
        store: server.store.kind,
        ...(config.databaseUrl ? {} : { dataDir: config.dataDir }),
        auth: config.auth,
        concurrency: config.concurrency,
      },
      `barge listening on ${server.url}`,
    );
    let signals = 0;
    const shutdown = (signal: string) => {
      signals++;
      if (signals > 1) {
        server.logger.warn('second signal: exiting now; unfinished requests will run again after restart');
        process.exit(1);
      }
      server.logger.info({ signal }, 'shutting down: no new claims, waiting for in-flight requests');
      server.close().then(
        () => process.exit(0),
        (err) => {
          server.logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
  });
}
