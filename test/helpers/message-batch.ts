import type { MessageBatch } from '../../src/wire/message-batch.ts';

/** The ten keys of a MessageBatch object on the wire, sorted (compare with `Object.keys(batch).sort()`). */
export const MESSAGE_BATCH_KEYS = [
  'archived_at',
  'cancel_initiated_at',
  'created_at',
  'ended_at',
  'expires_at',
  'id',
  'processing_status',
  'request_counts',
  'results_url',
  'type',
] as const;

/** A MessageBatch's `request_counts`. */
export type RequestCounts = MessageBatch['request_counts'];

/**
 * A complete `request_counts` object: the given counts, every other one 0. Compare it with `deepEqual`, so a count
 * left out is asserted to be 0 and an unexpected extra key still fails.
 */
export function countsWith(counts: Partial<RequestCounts>): RequestCounts {
  return { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0, ...counts };
}
