/** Batch lifecycle. `ingesting` is internal: such a batch is invisible to the API until its upload is stored. */
export type BatchStatus = 'ingesting' | 'in_progress' | 'canceling' | 'ended';

/** The statuses a client can see. */
export type VisibleBatchStatus = Exclude<BatchStatus, 'ingesting'>;

/** Item states, stored as small integers. */
export const ItemState = {
  queued: 0,
  running: 1,
  succeeded: 2,
  errored: 3,
  canceled: 4,
  expired: 5,
} as const;
export type ItemState = (typeof ItemState)[keyof typeof ItemState];

/** The four final outcomes a result line can carry. */
export type Outcome = 'succeeded' | 'errored' | 'canceled' | 'expired';

/** Whether a batch in this status may still be canceled (cancel on a canceling batch is a no-op). */
export function canCancel(status: VisibleBatchStatus): boolean {
  return status !== 'ended';
}

/** Whether a batch in this status may be deleted: only once processing has ended. */
export function canDelete(status: VisibleBatchStatus): boolean {
  return status === 'ended';
}
