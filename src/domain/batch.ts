import type { VisibleBatchStatus } from './batch-status.ts';
import type { BatchId } from './ids.ts';

/** Live outcome counters of a batch, maintained as results are written. */
export interface OutcomeCounts {
  succeeded: number;
  errored: number;
  canceled: number;
  expired: number;
}

/** A batch as the API sees it. Times are epoch milliseconds. */
export interface BatchRecord {
  seq: number;
  id: BatchId;
  workspace: string;
  status: VisibleBatchStatus;
  total: number;
  counts: OutcomeCounts;
  createdAt: number;
  expiresAt: number;
  endedAt: number | null;
  cancelInitiatedAt: number | null;
  archivedAt: number | null;
  apiVersion: string;
  betas: string | null;
}

/**
 * The contract's `request_counts`: every request counts as `processing` until the whole batch has ended, then the
 * four outcome counts (which sum to the total) are revealed. `live` reveals finished outcomes early (opt-in).
 */
export function requestCounts(
  batch: Pick<BatchRecord, 'status' | 'total' | 'counts'>,
  live = false,
): { processing: number } & OutcomeCounts {
  const { succeeded, errored, canceled, expired } = batch.counts;
  if (batch.status === 'ended') return { processing: 0, succeeded, errored, canceled, expired };
  if (live) {
    const done = succeeded + errored + canceled + expired;
    return { processing: batch.total - done, succeeded, errored, canceled, expired };
  }
  return { processing: batch.total, succeeded: 0, errored: 0, canceled: 0, expired: 0 };
}
