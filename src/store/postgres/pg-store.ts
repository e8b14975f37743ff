import type pg from 'pg';
import type { Store } from '../store.ts';
import { pgApiKeyQueries } from './api-keys.ts';
import { pgBatchQueries } from './batch-queries.ts';
import { pgClaimItems } from './claim-items.ts';
import { pgCompleteItems, pgHeartbeatItems, pgReleaseItems, pgRetryItems } from './complete-items.ts';
import { beginPgIngest } from './ingest-session.ts';
import { migratePg } from './migrate.ts';
import { openPool, type PgConnectOptions } from './open-pool.ts';
import { pgSweep } from './sweep.ts';

/** Rows per results page: a few hundred KB per round trip. */
const RESULTS_PAGE_ROWS = 1000;

/**
 * The shared Store: PostgreSQL, used by any number of API and worker processes on any number of machines. Nothing
 * lives in process memory that another process needs: claims are row locks and leases, fairness is recomputed per
 * claim from the open batches, and one sweeper pass at a time runs under an advisory lock.
 */
export class PgStore implements Store {
  readonly kind = 'postgres';
  readonly pool: pg.Pool;
  private readonly batches;
  private readonly claimOp;
  private readonly completeOp;
  private readonly retryOp;
  private readonly releaseOp;
  private readonly heartbeatOp;
  private readonly sweepOp;
  private readonly keys;

  private constructor(pool: pg.Pool) {
    this.pool = pool;
    this.batches = pgBatchQueries(pool);
    this.claimOp = pgClaimItems(pool);
    this.completeOp = pgCompleteItems(pool);
    this.retryOp = pgRetryItems(pool);
    this.releaseOp = pgReleaseItems(pool);
    this.heartbeatOp = pgHeartbeatItems(pool);
    this.sweepOp = pgSweep(pool);
    this.keys = pgApiKeyQueries(pool);
  }

  /**
   * Opens the pool and, unless told not to, applies pending migrations. Errors of idle connections (a server
   * restart) go to `onError`; the operation that next needs a connection gets a fresh one or a clear error.
   */
  static async open(
    o: PgConnectOptions & { migrate?: boolean },
    onError: (err: Error) => void = () => {},
  ): Promise<PgStore> {
    const pool = openPool(o, onError);
    try {
      if (o.migrate !== false) await migratePg(pool, o.schema);
    } catch (err) {
      await pool.end();
      throw err;
    }
    return new PgStore(pool);
  }

  beginIngest(batch: Parameters<Store['beginIngest']>[0]) {
    return beginPgIngest(this.pool, batch);
  }
  getBatch(workspace: string, id: string) {
    return this.batches.getBatch(workspace, id);
  }
  listBatches(workspace: string, query: Parameters<Store['listBatches']>[1]) {
    return this.batches.listBatches(workspace, query);
  }
  cancelBatch(workspace: string, id: string, now: number) {
    return this.batches.cancelBatch(workspace, id, now);
  }
  deleteBatch(workspace: string, id: string, now: number) {
    return this.batches.deleteBatch(workspace, id, now);
  }
  async *resultChunks(batchSeq: number): AsyncIterable<Buffer> {
    let after = 0;
    for (;;) {
      const page = await this.batches.resultsPage(batchSeq, after, RESULTS_PAGE_ROWS);
      if (page.text) yield Buffer.from(page.text);
      if (page.rows < RESULTS_PAGE_ROWS) return;
      after = page.lastItemId;
    }
  }
  claim(opts: Parameters<Store['claim']>[0]) {
    return this.claimOp(opts);
  }
  async complete(completions: Parameters<Store['complete']>[0], now: number) {
    return completions.length ? this.completeOp(completions, now) : [];
  }
  async retry(retries: Parameters<Store['retry']>[0]) {
    return retries.length ? this.retryOp(retries) : 0;
  }
  async release(items: Parameters<Store['release']>[0]) {
    if (items.length) await this.releaseOp(items);
  }
  heartbeat(owner: string, now: number, leaseMs: number, itemIds: readonly number[]) {
    return this.heartbeatOp(owner, now, leaseMs, itemIds);
  }
  sweep(opts: Parameters<Store['sweep']>[0]) {
    return this.sweepOp(opts);
  }
  /**
   * Nothing to do: other processes may hold claims, so a start-up cannot tell a dead worker's items from a live
   * one's. Lapsed leases are rescued by the sweeper and abandoned uploads purged by it.
   */
  async recover() {
    return { requeued: 0, droppedUploads: 0 };
  }
  batchUsage(batchSeq: number) {
    return this.batches.batchUsage(batchSeq);
  }
  workspaceUsage(workspace: string) {
    return this.batches.workspaceUsage(workspace);
  }
  findRequest(batchSeq: number, customId: string) {
    return this.batches.findRequest(batchSeq, customId);
  }
  erroredRequests(batchSeq: number, limit: number) {
    return this.batches.erroredRequests(batchSeq, limit);
  }
  reportWorker(report: Parameters<Store['reportWorker']>[0]) {
    return this.batches.reportWorker(report);
  }
  listWorkers(since: number) {
    return this.batches.listWorkers(since);
  }
  queueStats() {
    return this.batches.queueStats();
  }
  createKey(key: Parameters<Store['createKey']>[0], secretHash: string) {
    return this.keys.create(key, secretHash);
  }
  findKeyByHash(secretHash: string) {
    return this.keys.findByHash(secretHash);
  }
  listKeys() {
    return this.keys.list();
  }
  revokeKey(idOrPrefix: string, now: number) {
    return this.keys.revoke(idOrPrefix, now);
  }
  async close() {
    await this.pool.end();
  }
}
