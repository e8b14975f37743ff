import { z } from 'zod';

/** Everything `barge serve` can be told, validated once at start-up. Times are milliseconds. */
export const ServeConfigSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(0).max(65535),
  dataDir: z.string().min(1),
  concurrency: z.number().int().min(1).max(100_000),
  batchTtlMs: z.number().int().positive(),
  retentionMs: z.number().int().positive(),
  publicUrl: z
    .string()
    .url()
    .transform((u) => u.replace(/\/+$/, ''))
    .nullable(),
  auth: z.enum(['none', 'keys']),
  allowUnauthenticatedRemote: z.boolean(),
  mockLatency: z.object({ minMs: z.number().int().min(0), maxMs: z.number().int().min(0) }),
  mockErrorRate: z.number().min(0).max(1),
  shutdownGraceMs: z.number().int().min(0),
  // Upper bounds keep timers below Node's 2^31 ms limit (beyond it a timer fires after 1 ms).
  leaseMs: z
    .number()
    .int()
    .min(1000)
    .max(2 ** 31 - 1),
  sweepIntervalMs: z.number().int().min(10).max(3_600_000),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  /** The backends and routes file (JSON or YAML); null runs everything on the built-in mock model. */
  configFile: z.string().min(1).nullable(),
  /** A PostgreSQL URL: the shared store of a cluster. Null keeps the embedded SQLite store in `dataDir`. */
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .nullable(),
  /** Serve the web dashboard at /dashboard (API processes only). */
  dashboard: z.boolean(),
  /** Reveal outcome counts in `request_counts` while a batch runs (the contract shows them only at the end). */
  liveCounts: z.boolean(),
  /** What this process runs: the HTTP API, the worker (with the sweeper), or both. */
  role: z.enum(['api', 'worker', 'all']),
  pg: z.object({
    poolSize: z.number().int().min(1).max(1000),
    statementTimeoutMs: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1),
    connectTimeoutMs: z.number().int().min(100).max(600_000),
    /** A schema other than `public` (several deployments, or test runs, in one database). */
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
      .nullable(),
  }),
});
export type ServeConfig = z.infer<typeof ServeConfigSchema>;

export const DEFAULT_SERVE_CONFIG: ServeConfig = {
  host: '127.0.0.1',
  port: 8080,
  dataDir: './.barge',
  concurrency: 64,
  batchTtlMs: 24 * 3_600_000,
  retentionMs: 29 * 86_400_000,
  publicUrl: null,
  auth: 'none',
  allowUnauthenticatedRemote: false,
  mockLatency: { minMs: 100, maxMs: 1000 },
  mockErrorRate: 0,
  shutdownGraceMs: 10_000,
  leaseMs: 60_000,
  sweepIntervalMs: 1000,
  logLevel: 'info',
  configFile: null,
  databaseUrl: null,
  liveCounts: false,
  dashboard: true,
  role: 'all',
  pg: { poolSize: 10, statementTimeoutMs: 30_000, connectTimeoutMs: 5_000, schema: null },
};

/** Whether a host only listens on the loopback interface. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Validates a config, with the cross-field rules zod alone cannot say. Throws with a readable message. */
export function validateServeConfig(input: ServeConfig): ServeConfig {
  const parsed = ServeConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid configuration: ${issue.path.join('.')}: ${issue.message}`);
  }
  const c = parsed.data;
  if (c.batchTtlMs > c.retentionMs)
    throw new Error('invalid configuration: --batch-ttl must not exceed --retention');
  if (c.role !== 'all' && c.databaseUrl === null) {
    throw new Error(
      `invalid configuration: --role ${c.role} needs --database-url: separate API and worker processes share a ` +
        'PostgreSQL database (the embedded SQLite store serves one process)',
    );
  }
  if (c.mockLatency.maxMs < c.mockLatency.minMs)
    throw new Error('invalid configuration: --mock-latency range');
  if (c.auth === 'none' && !isLoopbackHost(c.host) && !c.allowUnauthenticatedRemote) {
    throw new Error(
      `refusing to listen on ${c.host} with --auth none: anyone who can reach it could use it. ` +
        'Use --auth keys, or pass --allow-unauthenticated-remote if this network is trusted.',
    );
  }
  return c;
}
