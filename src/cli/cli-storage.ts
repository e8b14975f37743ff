import type { Command } from 'commander';
import { DEFAULT_SERVE_CONFIG, type ServeConfig } from '../config/config.ts';
import { PgStore } from '../store/postgres/pg-store.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import type { Store } from '../store/store.ts';
import { addPgOptions, envOption, pgSettings } from './serve-command.ts';

/** The flags that say where a server keeps its data: `--data-dir`, or `--database-url` with the `--pg-*` settings. */
export function addStorageOptions(cmd: Command): Command {
  cmd
    .addOption(
      envOption('--data-dir <dir>', 'the data directory of the server').default(DEFAULT_SERVE_CONFIG.dataDir),
    )
    .addOption(
      envOption('--database-url <url>', 'the PostgreSQL database of the cluster (instead of --data-dir)'),
    );
  return addPgOptions(cmd);
}

interface StorageFlags {
  dataDir: string;
  databaseUrl?: string;
  pgPoolSize: number;
  pgStatementTimeout: string;
  pgConnectTimeout: string;
  pgSchema?: string;
}

/** Opens the store the flags name (migrating it if needed), runs `fn`, and closes it. */
export async function withCliStore<T>(o: StorageFlags, fn: (store: Store) => Promise<T>): Promise<T> {
  let store: Store;
  if (o.databaseUrl) {
    const pg: ServeConfig['pg'] = pgSettings(o);
    store = await PgStore.open({
      url: o.databaseUrl,
      poolSize: 2,
      statementTimeoutMs: pg.statementTimeoutMs,
      connectTimeoutMs: pg.connectTimeoutMs,
      applicationName: 'barge-cli',
      ...(pg.schema ? { schema: pg.schema } : {}),
    });
  } else {
    store = new SqliteStore(SqliteStore.fileIn(o.dataDir));
  }
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
