import type { BatchRecord } from '../domain/batch.ts';
import type { BatchId } from '../domain/ids.ts';
import type { TokenUsage } from '../domain/token-usage.ts';

/** What a new batch starts with; it stays invisible (`ingesting`) until `IngestSession.commit`. */
export interface NewBatch {
  id: BatchId;
  workspace: string;
  createdAt: number;
  expiresAt: number;
  apiVersion: string;
  betas: string | null;
}

/** One request of an upload: its custom_id and the exact bytes of its params. */
export interface IngestItem {
  customId: string;
  params: Uint8Array;
  /** `params.model` when it is a string (the routing key); null otherwise. */
  model: string | null;
}

/** A staged upload. Items are appended in chunks; nothing is visible until `commit`. */
export interface IngestSession {
  append(items: IngestItem[]): Promise<void>;
  /** Flips the batch visible (`in_progress`) in one short transaction and returns it. */
  commit(): Promise<BatchRecord>;
  /** Removes everything staged so far. */
  abort(): Promise<void>;
}

export interface ListQuery {
  limit: number;
  afterId?: string;
  beforeId?: string;
}

/** A claimed item, ready to run. `attempt` is the fencing token for its completion. */
export interface ClaimedItem {
  itemId: number;
  batchSeq: number;
  batchId: BatchId;
  customId: string;
  attempt: number;
  params: Uint8Array;
  model: string | null;
  apiVersion: string;
  betas: string | null;
}

/** A finished attempt: the final state and its result line. */
export interface Completion {
  itemId: number;
  batchSeq: number;
  attempt: number;
  outcome: 'succeeded' | 'errored';
  line: string;
  /** A succeeded request's routing model and token usage, totalled per batch and model for usage and cost. */
  model?: string | null;
  usage?: TokenUsage;
}

/** Token usage of a batch (or a workspace) for one model. */
export interface ModelUsage {
  model: string;
  usage: TokenUsage;
}

/** One request of a batch as its owner may inspect it. */
export interface RequestRecord {
  customId: string;
  state: 'queued' | 'running' | 'succeeded' | 'errored' | 'canceled' | 'expired';
  /** Attempts started so far (a rate-limited attempt is given back). */
  attempts: number;
  /** The last transient failure, while the request waits to run again. */
  lastError: string | null;
  /** Its result line, once it has one (and until archival). */
  resultLine: string | null;
  /** Its params as uploaded (until archival). */
  params: string | null;
}

export interface ClaimOptions {
  owner: string;
  limit: number;
  now: number;
  leaseMs: number;
  /** Models whose lane has no budget right now: their items stay queued for other claims (or later). */
  skipModels?: readonly string[];
}

/**
 * A claimed item going back to the queue after a transient failure, to run again at `runAt`. `countAttempt: false`
 * (a 429) gives the attempt back, so rate limiting never uses up a request's attempts.
 */
export interface Retry {
  itemId: number;
  attempt: number;
  runAt: number;
  countAttempt: boolean;
  /** The failure, kept for the request's status (bounded by the caller). */
  error: string;
}

/** What one sweep did, for logs and tests. */
export interface SweepReport {
  rescued: number;
  canceled: number;
  expired: number;
  /** Batches whose unfinished requests this pass expired (their in-flight calls can be aborted). */
  expiredBatches: BatchId[];
  ended: BatchId[];
  archived: BatchId[];
  purged: number;
  /** True when a step stopped at its chunk size and more work remains. */
  more: boolean;
}

/** A pass that did nothing (yet). */
export function emptySweepReport(): SweepReport {
  return {
    rescued: 0,
    canceled: 0,
    expired: 0,
    expiredBatches: [],
    ended: [],
    archived: [],
    purged: 0,
    more: false,
  };
}

export interface SweepOptions {
  now: number;
  retentionMs: number;
  /** Rows per step; each step is its own short transaction. */
  chunk: number;
}

/** A stored API key (the secret itself is never stored, only its SHA-256). */
export interface ApiKeyRecord {
  id: string;
  workspace: string;
  prefix: string;
  createdAt: number;
  revokedAt: number | null;
}

/** A worker process as it last reported itself (the dashboard's overview of workers and lanes). */
export interface WorkerReport {
  owner: string;
  startedAt: number;
  seenAt: number;
  concurrency: number;
  running: number;
  /** Requests it holds: claimed, running, or finished with the write pending. */
  held: number;
  lanes: Array<{
    backend: string;
    model: string;
    inFlight: number;
    limit: number;
    waiting: number;
    pausedUntil: number | null;
  }>;
}

/** What `/metrics` reads from the store at scrape time. */
export interface QueueStats {
  batchesByStatus: Record<string, number>;
  queuedByModel: Array<{ model: string | null; queued: number }>;
}

export type CancelOutcome = { kind: 'ok'; batch: BatchRecord } | { kind: 'not_found' } | { kind: 'ended' };
export type DeleteOutcome =
  | { kind: 'ok' }
  | { kind: 'not_found' }
  | { kind: 'not_ended'; batch: BatchRecord };

/**
 * The Store port: durable batches, items and results. Every implementation passes the conformance suite in
 * `test/store/`. All time-dependent operations take `now` from the caller (the injected Clock).
 */
export interface Store {
  readonly kind: string;

  beginIngest(batch: NewBatch): Promise<IngestSession>;
  getBatch(workspace: string, id: string): Promise<BatchRecord | null>;
  listBatches(workspace: string, query: ListQuery): Promise<{ batches: BatchRecord[]; hasMore: boolean }>;
  cancelBatch(workspace: string, id: string, now: number): Promise<CancelOutcome>;
  deleteBatch(workspace: string, id: string, now: number): Promise<DeleteOutcome>;
  /**
   * A plain JSONL file holding exactly the result lines of an ended batch, when the store keeps one (the SQLite
   * store's spool); downloads send it as a file. Null otherwise.
   */
  resultsFile?(batchSeq: number): string | null;
  /** Result lines of an ended batch, each ending in `\n`, coalesced into chunks of roughly `chunkBytes`. */
  resultChunks(batchSeq: number, chunkBytes?: number): AsyncIterable<Buffer>;

  /** Claims up to `limit` queued items, shared fairly across the batches that have work. */
  claim(opts: ClaimOptions): Promise<ClaimedItem[]>;
  /** Writes results, fenced by attempt; ends batches whose last item finished. Returns the ended batch ids. */
  complete(completions: Completion[], now: number): Promise<BatchId[]>;
  /** Requeues items after transient failures, fenced by attempt like `complete`. Returns how many were requeued. */
  retry(retries: Retry[]): Promise<number>;
  /** Returns claimed but unstarted items to the queue without counting the attempt. */
  release(items: Array<{ itemId: number; attempt: number }>): Promise<void>;
  /**
   * Extends the leases of the given items this owner holds. Only the items the worker still tracks: one it lost
   * track of (a bug) then lapses and is rescued, instead of being renewed forever.
   */
  heartbeat(owner: string, now: number, leaseMs: number, itemIds: readonly number[]): Promise<number>;
  /** Applies the time rules and background chores once. */
  sweep(opts: SweepOptions): Promise<SweepReport>;
  /** On start-up of a single-node store: everything `running` belonged to a dead process; half uploads are dropped. */
  recover(): Promise<{ requeued: number; droppedUploads: number }>;

  /** Usage totals of a batch's succeeded requests, per model. */
  batchUsage(batchSeq: number): Promise<ModelUsage[]>;
  /** Usage totals of every batch a workspace ever ran (deleted ones included), per model. */
  workspaceUsage(workspace: string): Promise<ModelUsage[]>;
  /** A request of a batch by its custom_id. */
  findRequest(batchSeq: number, customId: string): Promise<RequestRecord | null>;
  /** The first `limit` errored requests of a batch, in upload order, with their result lines. */
  erroredRequests(batchSeq: number, limit: number): Promise<Array<{ customId: string; line: string }>>;

  /** Records a worker's state (on each heartbeat); rows unseen for a day are dropped by the sweeper. */
  reportWorker(report: WorkerReport): Promise<void>;
  /** Workers seen at or after `since`, most recently started first. */
  listWorkers(since: number): Promise<WorkerReport[]>;

  /** Visible batches by status, and queued requests by model: the gauges of `/metrics`. */
  queueStats(): Promise<QueueStats>;

  createKey(key: ApiKeyRecord, secretHash: string): Promise<void>;
  findKeyByHash(secretHash: string): Promise<ApiKeyRecord | null>;
  listKeys(): Promise<ApiKeyRecord[]>;
  revokeKey(idOrPrefix: string, now: number): Promise<boolean>;

  close(): Promise<void>;
}
