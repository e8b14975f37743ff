import type { ClaimedItem, ClaimOptions, Completion, Retry } from '../store.ts';
import { claimItems } from './claim-items.ts';
import {
  type CompletionOutcome,
  completeItems,
  type EndedBatch,
  endBatches,
  heartbeatItems,
  retryItems,
} from './complete-items.ts';
import { type Db, durably } from './open-database.ts';

/**
 * The worker's hot operations on the queue: claim, complete, retry, heartbeat. They run either on the store's own
 * connection (an in-memory database) or on a connection of their own in the queue thread (`QueueThread`), with this
 * same code. Release stays on the store's connection: it runs at shutdown, and must be committed before a second
 * signal ends the process at once.
 */
export interface QueueOperations {
  claim(opts: ClaimOptions): ClaimedItem[];
  /**
   * Writes results, fenced (synchronous=NORMAL: committed, not yet on disk). No batch ends here: the caller makes
   * the commit durable, then ends the drained batches with `endBatches`, so a batch is never seen ended (and its
   * results served) before every one of its results is on disk.
   */
  stageCompletions(completions: Completion[]): CompletionOutcome;
  /** Ends the drained batches, durably (synchronous=FULL, which also syncs every earlier commit). */
  endBatches(seqs: readonly number[], now: number): EndedBatch[];
  retry(retries: Retry[]): number;
  heartbeat(owner: string, now: number, leaseMs: number, itemIds: readonly number[]): number;
}

/** What `complete` reports: the indices of the completions written, and the batches that ended. */
export interface CompleteResult {
  written: number[];
  ended: EndedBatch[];
}

export function queueOperations(db: Db): QueueOperations {
  const end = endBatches(db);
  return {
    claim: claimItems(db),
    stageCompletions: completeItems(db),
    endBatches: (seqs, now) => (seqs.length ? durably(db, () => end(seqs, now)) : []),
    retry: retryItems(db),
    heartbeat: heartbeatItems(db),
  };
}

/**
 * The queue operations as the store calls them, asynchronous: in the queue thread for a database file
 * (`QueueThread`), or on the store's own connection (`localQueue`).
 */
export interface Queue {
  claim(opts: ClaimOptions): Promise<ClaimedItem[]>;
  /** Writes the results durably, then ends the batches they drained. */
  complete(completions: Completion[], now: number): Promise<CompleteResult>;
  retry(retries: Retry[]): Promise<number>;
  heartbeat(owner: string, now: number, leaseMs: number, itemIds: readonly number[]): Promise<number>;
  close(): Promise<void>;
}

/** The queue on the store's own connection, for an in-memory database (which no other connection can open). */
export function localQueue(db: Db): Queue {
  const ops = queueOperations(db);
  return {
    claim: async (opts) => ops.claim(opts),
    complete: async (completions, now) => {
      const { written, drained } = ops.stageCompletions(completions);
      return { written, ended: ops.endBatches(drained, now) };
    },
    retry: async (retries) => ops.retry(retries),
    heartbeat: async (owner, now, leaseMs, itemIds) => ops.heartbeat(owner, now, leaseMs, itemIds),
    close: async () => {},
  };
}
