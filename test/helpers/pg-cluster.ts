import type { TestContext } from 'node:test';
import pg from 'pg';
import { type BargeProcess, startBarge } from './barge-process.ts';
import { dropSchema, freshSchemaName, PG_URL } from './pg.ts';

/** A Barge cluster of child processes sharing one PostgreSQL schema, removed (processes, then schema) at test end. */
export interface PgCluster {
  url: string;
  schema: string;
  /** Starts `barge serve --role <role>` on this cluster's database with extra flags. */
  start(role: 'api' | 'worker' | 'all', ...flags: string[]): Promise<BargeProcess>;
  /** Every process started so far. */
  processes: BargeProcess[];
  /** A single-value query against the cluster's schema (counts, mostly). */
  scalar<T = number>(sql: string, params?: unknown[]): Promise<T>;
}

export function pgCluster(t: TestContext, url = PG_URL): PgCluster {
  const schema = freshSchemaName();
  const processes: BargeProcess[] = [];
  t.after(async () => {
    await Promise.all(processes.map((p) => p.kill9().catch(() => {})));
    await dropSchema(schema, url).catch(() => {});
  });
  return {
    url,
    schema,
    processes,
    async start(role, ...flags) {
      const p = await startBarge(t, {
        args: ['--database-url', url, '--pg-schema', schema, '--role', role, '--log-level', 'info', ...flags],
        startTimeoutMs: 30_000,
      });
      processes.push(p);
      return p;
    },
    async scalar<T>(sql: string, params: unknown[] = []) {
      const c = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
      await c.connect();
      try {
        const { rows } = await c.query(sql, params);
        const v = Object.values(rows[0] ?? {})[0];
        return (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v) as T;
      } finally {
        await c.end();
      }
    },
  };
}
