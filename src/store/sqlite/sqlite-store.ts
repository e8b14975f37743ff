import { createReadStream, existsSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TimeSlice } from '../../internal/yield-now.ts';
import type { DeleteOutcome, Store } from '../store.ts';
import { apiKeyQueries } from './api-keys.ts';
import { batchQueries } from './batch-queries.ts';
import { type EndedBatch, releaseItems } from './complete-items.ts';
import { ingestOperations } from './ingest-session.ts';
import { type Db, durably, openDatabase } from './open-database.ts';
import { localQueue, type Queue } from './queue-operations.ts';
import { QueueThread } from './queue-thread.ts';
import { ResultsSpool } from './results-spool.ts';
import { recoverStore, sweepStore } from './sweep.ts';
import { WalCheckpointer } from './wal-checkpointer.ts';

/**
 * Rows per results page. Pages of a few hundred KB measured fastest: larger ones make SQLite, the driver and Node
 * each copy a megabyte-sized allocation (fresh pages from the kernel every time), smaller ones pay per query.
 */
const RESULTS_PAGE_ROWS = 1000;

/**
 * The embedded Store: one SQLite file in WAL mode, used by one process. better-sqlite3 is synchronous, so every
 * method is one short statement or transaction; long work (results, purges) is paged and yields between pages.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly db: Db;
  private readonly ingest;
  private readonly batches;
  /** The worker's queue operations: in the queue thread for a file, on this connection for `:memory:`. */
  private readonly queue: Queue;
  private readonly releaseOp;
  private readonly sweepOp;
  private readonly recoverOp;
  private readonly keys;
  private readonly checkpointer: WalCheckpointer | null;
  private readonly spool: ResultsSpool | null;
  private readonly openMarker: string | null;

  /**
   * `spool: true` for the server that owns the data directory: it keeps the results spool. Other users of the
   * file (the `keys` commands, next to a running server) must not touch it.
   */
  constructor(file: string, opts: { spool?: boolean } = {}) {
    this.db = openDatabase(file);
    this.checkpointer = file === ':memory:' ? null : new WalCheckpointer(file);
    if (file === ':memory:' || !opts.spool) {
      this.spool = null;
      this.openMarker = null;
    } else {
      // The marker exists only while a store is open: found at start, the last one did not close cleanly.
      this.openMarker = `${file}.open`;
      this.spool = new ResultsSpool(join(dirname(file), 'results'));
      this.spool.reset(existsSync(this.openMarker));
      writeFileSync(this.openMarker, String(process.pid));
    }
    this.ingest = ingestOperations(this.db);
    this.batches = batchQueries(this.db);
    this.queue = file === ':memory:' ? localQueue(this.db) : new QueueThread(file);
    this.releaseOp = releaseItems(this.db);
    this.sweepOp = sweepStore(this.db);
    this.recoverOp = recoverStore(this.db);
    this.keys = apiKeyQueries(this.db);
  }

  /** The database file inside a data directory. */
  static fileIn(dataDir: string): string {
    return join(dataDir, 'barge.db');
  }

  async beginIngest(batch: Parameters<Store['beginIngest']>[0]) {
    return this.ingest(batch);
  }
  async getBatch(workspace: string, id: string) {
    return this.batches.getBatch(workspace, id);
  }
  async listBatches(workspace: string, query: Parameters<Store['listBatches']>[1]) {
    return this.batches.listBatches(workspace, query);
  }
  async cancelBatch(workspace: string, id: string, now: number) {
    return this.batches.cancelBatch(workspace, id, now);
  }
  async deleteBatch(workspace: string, id: string, now: number) {
    const { seq, ...r } = this.batches.deleteBatch(workspace, id, now);
    if (seq !== undefined) this.spool?.remove(seq);
    return r as DeleteOutcome;
  }

  /** Copies committed result lines into the spool, and keeps or drops the files of batches that ended or went. */
  private mirror(written: Map<number, string[]>, ended: EndedBatch[], removed: number[]): void {
    if (!this.spool) return;
    for (const [seq, lines] of written) this.spool.append(seq, lines);
    for (const e of ended) this.spool.seal(e.seq, e.total);
    for (const seq of removed) this.spool.remove(seq);
  }
  resultsFile(batchSeq: number): string | null {
    return this.spool?.fileOf(batchSeq) ?? null;
  }
  resultChunks(batchSeq: number): AsyncIterable<Buffer> {
    const file = this.spool?.fileOf(batchSeq);
    // A complete spool file streams from the page cache as a plain file stream, which the HTTP layer pipes with no
    // async-iterator hop per chunk. 256 KiB reads measured best here (first download of 115 MB: 212-284 MB/s,
    // against 132-182 with 64 KiB and 191-234 with 1 MiB).
    if (file) return createReadStream(file, { highWaterMark: 256 * 1024 });
    return this.rowChunks(batchSeq);
  }
  private async *rowChunks(batchSeq: number): AsyncIterable<Buffer> {
    const slice = new TimeSlice();
    let after = 0;
    for (;;) {
      const page = this.batches.resultsPage(batchSeq, after, RESULTS_PAGE_ROWS);
      if (page.bytes) yield page.bytes;
      if (page.rows < RESULTS_PAGE_ROWS) return;
      after = page.lastItemId;
      // Loopback writes complete at once, so without this the whole download would be one event-loop task.
      await slice.maybeYield();
    }
  }
  async claim(opts: Parameters<Store['claim']>[0]) {
    return this.queue.claim(opts);
  }
  async complete(completions: Parameters<Store['complete']>[0], now: number) {
    if (completions.length === 0) return [];
    const r = await this.queue.complete(completions, now);
    if (this.spool) {
      const written = new Map<number, string[]>();
      for (const i of r.written) {
        const c = completions[i]!;
        const lines = written.get(c.batchSeq);
        if (lines) lines.push(c.line);
        else written.set(c.batchSeq, [c.line]);
      }
      this.mirror(written, r.ended, []);
    }
    return r.ended.map((e) => e.id);
  }
  async retry(retries: Parameters<Store['retry']>[0]) {
    return retries.length ? this.queue.retry(retries) : 0;
  }
  async release(items: Parameters<Store['release']>[0]) {
    // On this connection, synchronously: see QueueOperations.
    if (items.length) this.releaseOp(items);
  }
  async heartbeat(owner: string, now: number, leaseMs: number, itemIds: readonly number[]) {
    return itemIds.length ? this.queue.heartbeat(owner, now, leaseMs, itemIds) : 0;
  }
  async sweep(opts: Parameters<Store['sweep']>[0]) {
    const r = durably(this.db, () => this.sweepOp(opts));
    this.mirror(r.written, r.ended, r.removed);
    return r.report;
  }
  async recover() {
    return this.recoverOp();
  }
  async batchUsage(batchSeq: number) {
    return this.batches.batchUsage(batchSeq);
  }
  async workspaceUsage(workspace: string) {
    return this.batches.workspaceUsage(workspace);
  }
  async findRequest(batchSeq: number, customId: string) {
    return this.batches.findRequest(batchSeq, customId);
  }
  async erroredRequests(batchSeq: number, limit: number) {
    return this.batches.erroredRequests(batchSeq, limit);
  }
  async reportWorker(report: Parameters<Store['reportWorker']>[0]) {
    this.batches.reportWorker(report);
  }
  async listWorkers(since: number) {
    return this.batches.listWorkers(since);
  }
  async queueStats() {
    return this.batches.queueStats();
  }
  async createKey(key: Parameters<Store['createKey']>[0], secretHash: string) {
    this.keys.create(key, secretHash);
  }
  async findKeyByHash(secretHash: string) {
    return this.keys.findByHash(secretHash);
  }
  async listKeys() {
    return this.keys.list();
  }
  async revokeKey(idOrPrefix: string, now: number) {
    return this.keys.revoke(idOrPrefix, now);
  }
  async close() {
    await this.queue.close();
    this.spool?.close();
    await this.checkpointer?.stop();
    if (this.db.open) {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      this.db.close();
    }
    if (this.openMarker) rmSync(this.openMarker, { force: true });
  }
}
