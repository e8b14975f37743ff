import type pg from 'pg';

const ignore = (): void => {};

/**
 * A pooled connection for a caller that holds it across several queries (a transaction, the sweeper's lock, the
 * migrations). node-postgres emits `error` on a checked-out client whose server goes away (a restart), whether or
 * not a query is running, and pg-pool listens only on idle clients: with no listener of ours that is an uncaught
 * exception, and the process ends (seen: a worker died when PostgreSQL restarted during its sweep). The same error
 * also fails the query in flight, or the next one, which the caller handles; the listener only has to exist. It is
 * removed on release, where the pool takes over.
 */
export async function checkout(pool: pg.Pool): Promise<pg.PoolClient> {
  const c = await pool.connect();
  c.on('error', ignore);
  const release = c.release;
  c.release = (err?: Error | boolean) => {
    c.removeListener('error', ignore);
    release.call(c, err);
  };
  return c;
}
