import { mkdirSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './schema.ts';

export type Db = Database.Database;

/**
 * Opens (creating if needed) the SQLite database with the pragmas Barge relies on:
 * WAL so readers never block the writer; synchronous=NORMAL for staging writes (ingest chunks, claims), which
 * survive a process kill but skip the fsync; and `durably` (FULL) for the commits that acknowledge something to a
 * client or finish a request. In WAL mode a FULL commit fsyncs the log up to and including every earlier frame, so
 * the whole staged batch is on disk when the flip commits. Measured here: 100 MB of 2.5 KB rows in 2,000-row
 * transactions took 855 ms with FULL on every commit and 373 ms with NORMAL.
 */
export function openDatabase(file: string, opts: { mmap?: boolean } = {}): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  // First, so that opening next to another process (a server, a concurrent `keys` command) waits for its locks.
  db.pragma('busy_timeout = 5000');
  // 16 KiB pages (set before the first table exists; ignored afterwards): measured here, 100k 2.5 KB rows
  // inserted in 0.75 s instead of 1.3-1.6 s, and a cold results read at 768 MB/s instead of 207 MB/s.
  db.pragma('page_size = 16384');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = OFF');
  db.pragma('cache_size = -65536'); // 64 MiB page cache
  // Reads straight from the mapped file instead of copying each page into the cache: a cold results download
  // went from ~200 to ~470 MB/s here (fresh process, 100k result rows).
  // Not for the queue thread: a claim reads each payload once, and faulting the mapped pages in cost more than
  // copying them (measured: claims of 32 at 14.9 µs per item mapped, 9.7 copied).
  if (opts.mmap !== false) db.pragma('mmap_size = 1073741824');
  // In-memory databases have no WAL to checkpoint; file databases are checkpointed by a WalCheckpointer thread.
  if (file !== ':memory:') db.pragma('wal_autocheckpoint = 0');
  migrate(db);
  return db;
}

/**
 * Syncs the database's WAL on libuv's pool, off the event loop, so that a FULL commit after a large staged write
 * (an upload's chunks, committed NORMAL) has little left to sync: the flip of a 256 MB upload held the event loop
 * for up to 0.7 s in its fsync when the checkpointer (whose checkpoints also sync the WAL) had fallen behind.
 */
export async function syncWal(db: Db): Promise<void> {
  if (db.memory) return;
  let fh: FileHandle;
  try {
    fh = await open(`${db.name}-wal`, 'r');
  } catch {
    return; // no WAL yet: nothing staged
  }
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** Runs `fn` (one transaction) with synchronous=FULL, so its commit is on disk before it returns. */
export function durably<T>(db: Db, fn: () => T): T {
  db.pragma('synchronous = FULL');
  try {
    return fn();
  } finally {
    db.pragma('synchronous = NORMAL');
  }
}

/**
 * Applies pending migrations, each in its own transaction, tracked by `user_version`. The version is read inside
 * the write transaction, so two processes opening a new database at once (found by CI: two `keys create` on a
 * fresh data directory) apply each migration exactly once.
 */
export function migrate(db: Db): number {
  const step = db.transaction((): boolean => {
    const v = db.pragma('user_version', { simple: true }) as number;
    if (v >= MIGRATIONS.length) return false;
    db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${v + 1}`);
    return true;
  });
  let applied = 0;
  while (step.immediate()) applied++;
  return applied;
}
