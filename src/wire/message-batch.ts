import { type BatchRecord, requestCounts } from '../domain/batch.ts';
import { rfc3339, rfc3339OrNull } from './timestamp.ts';

/** The wire MessageBatch: all ten keys, always present, nullable ones as `null`. */
export interface MessageBatch {
  id: string;
  type: 'message_batch';
  processing_status: 'in_progress' | 'canceling' | 'ended';
  request_counts: {
    processing: number;
    succeeded: number;
    errored: number;
    canceled: number;
    expired: number;
  };
  ended_at: string | null;
  created_at: string;
  expires_at: string;
  archived_at: string | null;
  cancel_initiated_at: string | null;
  results_url: string | null;
}

export interface SerializeOptions {
  /** The absolute base URL of this server (no trailing slash), used for `results_url`. */
  baseUrl: string;
  /** Reveal finished outcomes before the batch ends (an opt-in extension; off by default). */
  liveCounts?: boolean;
}

/** Renders a stored batch as the wire MessageBatch. `results_url` is set once the batch has ended. */
export function toMessageBatch(batch: BatchRecord, opts: SerializeOptions): MessageBatch {
  return {
    id: batch.id,
    type: 'message_batch',
    processing_status: batch.status,
    request_counts: requestCounts(batch, opts.liveCounts ?? false),
    ended_at: rfc3339OrNull(batch.endedAt),
    created_at: rfc3339(batch.createdAt),
    expires_at: rfc3339(batch.expiresAt),
    archived_at: rfc3339OrNull(batch.archivedAt),
    cancel_initiated_at: rfc3339OrNull(batch.cancelInitiatedAt),
    results_url: batch.status === 'ended' ? `${opts.baseUrl}/v1/messages/batches/${batch.id}/results` : null,
  };
}

/** The DELETE response. */
export function deletedMessageBatch(id: string): { id: string; type: 'message_batch_deleted' } {
  return { id, type: 'message_batch_deleted' };
}

/** A list page; the four keys are always present (`has_more` missing would loop the Python SDK forever). */
export function listPage<T extends { id: string }>(
  data: T[],
  hasMore: boolean,
): { data: T[]; has_more: boolean; first_id: string | null; last_id: string | null } {
  return { data, has_more: hasMore, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}
