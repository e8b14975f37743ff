import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PgStore } from '../../src/store/postgres/pg-store.ts';

/** The PostgreSQL the tests use: `.ci/run` makes sure it is running (127.0.0.1:5432, trust auth). */
export const PG_URL = process.env.BARGE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A new, unique schema name; each test's store lives in its own. */
export function freshSchemaName(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string, url = PG_URL): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await c.end();
  }
}

/** A PgStore in a fresh schema that drops the schema when closed. */
export async function openTestPgStore(poolSize = 4): Promise<PgStore> {
  const schema = freshSchemaName();
  const store = await PgStore.open({ url: PG_URL, schema, poolSize });
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    await dropSchema(schema);
  };
  return store;
}
