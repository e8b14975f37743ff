import type { Logger } from 'pino';
import type { ServeConfig } from '../config/config.ts';
import { LocalNotifier, type Notifier } from '../queue/notifier.ts';
import { clientConfig, type PgConnectOptions } from './postgres/open-pool.ts';
import { PgNotifier } from './postgres/pg-notifier.ts';
import { PgStore } from './postgres/pg-store.ts';
import { lockDataDir } from './sqlite/data-dir-lock.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';
import type { Store } from './store.ts';

/** A server's storage: the store, the notifier that matches it, and how to let both go. */
export interface OpenedStorage {
  store: Store;
  notifier: Notifier;
  close(): Promise<void>;
}

/** The PostgreSQL connection settings of a server config. */
export function pgOptions(config: ServeConfig, role: string): PgConnectOptions {
  return {
    url: config.databaseUrl!,
    poolSize: config.pg.poolSize,
    statementTimeoutMs: config.pg.statementTimeoutMs,
    connectTimeoutMs: config.pg.connectTimeoutMs,
    applicationName: `barge-${role}`,
    ...(config.pg.schema ? { schema: config.pg.schema } : {}),
  };
}

/**
 * Opens the store a server config names: PostgreSQL (migrated on open, shared by every process, events by
 * LISTEN/NOTIFY) with `--database-url`, else the embedded SQLite store in the data directory, which one process owns
 * (a lock file) and which recovers that process's unfinished work on start.
 */
export async function openStorage(config: ServeConfig, log: Logger): Promise<OpenedStorage> {
  if (config.databaseUrl) {
    const o = pgOptions(config, config.role);
    const store = await PgStore.open(o, (err) =>
      log.warn({ err: err.message }, 'PostgreSQL connection error'),
    );
    try {
      const notifier = await PgNotifier.start(clientConfig(o), store.pool, {
        log,
        ...(o.schema ? { schema: o.schema } : {}),
      });
      return {
        store,
        notifier,
        async close() {
          await notifier.close();
          await store.close();
        },
      };
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  const unlock = lockDataDir(config.dataDir);
  try {
    const store = new SqliteStore(SqliteStore.fileIn(config.dataDir), { spool: true });
    const recovered = await store.recover();
    if (recovered.requeued || recovered.droppedUploads)
      log.info(recovered, 'recovered after an unclean stop');
    return {
      store,
      notifier: new LocalNotifier(),
      async close() {
        await store.close();
        unlock();
      },
    };
  } catch (err) {
    unlock();
    throw err;
  }
}
