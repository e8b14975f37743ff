import pg from 'pg';
import { DEFAULT_SERVE_CONFIG } from '../../config/config.ts';

/** How Barge connects to PostgreSQL (`--database-url` and the `--pg-*` settings). */
export interface PgConnectOptions {
  url: string;
  /** Connections in this process's pool. */
  poolSize?: number | undefined;
  /** Server-side limit on any one statement (ms); 0 turns it off. */
  statementTimeoutMs?: number;
  /** How long to wait for a connection, from the pool or the server, before failing the operation (ms). */
  connectTimeoutMs?: number;
  /** A schema to use instead of `public` (created if missing): tests give each store its own. */
  schema?: string;
  /** Told to the server as application_name, visible in pg_stat_activity. */
  applicationName?: string;
}

const PG_DEFAULTS = DEFAULT_SERVE_CONFIG.pg;

/**
 * How long past the server's statement timeout a query may go unanswered before the client gives up on it. The
 * statement timeout is enforced by the server, so it cannot end a query the server never answers; node-postgres has
 * no bound of its own, and one such query would leave its caller (a worker's claim loop) waiting for good.
 */
export const QUERY_TIMEOUT_MARGIN_MS = 2000;

// bigint columns hold epoch milliseconds, counts and item ids, all far below 2^53: parse them as numbers.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8 && format !== 'binary') return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

/** The settings every connection of Barge gets, pooled or dedicated (LISTEN, the sweeper's lock). */
export function clientConfig(o: PgConnectOptions): pg.ClientConfig {
  const statementTimeoutMs = o.statementTimeoutMs ?? PG_DEFAULTS.statementTimeoutMs;
  const sessionOptions = [
    `-c statement_timeout=${statementTimeoutMs}`,
    // A transaction left open by a stalled process must not hold row locks for long.
    '-c idle_in_transaction_session_timeout=60000',
  ];
  if (o.schema) sessionOptions.push(`-c search_path=${o.schema}`);
  return {
    connectionString: o.url,
    connectionTimeoutMillis: o.connectTimeoutMs ?? PG_DEFAULTS.connectTimeoutMs,
    application_name: o.applicationName ?? 'barge',
    options: sessionOptions.join(' '),
    // A query that times out here fails, and `pool.query` then discards its connection.
    ...(statementTimeoutMs > 0 && { query_timeout: statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS }),
    keepAlive: true,
    types,
  };
}

/**
 * A pool whose broken connections never crash the process: an idle client that loses its server (a restart) is
 * dropped by the pool and reported here; the next query opens a fresh one.
 */
export function openPool(o: PgConnectOptions, onError: (err: Error) => void): pg.Pool {
  const pool = new pg.Pool({
    ...clientConfig(o),
    max: o.poolSize ?? PG_DEFAULTS.poolSize,
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', onError);
  return pool;
}

/** Validates a schema name before it is put into SQL text. */
export function checkSchemaName(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid schema name: ${schema}`);
  return schema;
}
