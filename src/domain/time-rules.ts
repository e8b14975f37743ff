/** Policy for the time rules of the batch lifecycle, all in milliseconds. */
export interface TimePolicy {
  /** Time from creation to expiry (the hosted API: 24 h). */
  batchTtlMs: number;
  /** Time from creation to archival of results (the hosted API: 29 days). */
  retentionMs: number;
}

export const DEFAULT_TIME_POLICY: TimePolicy = { batchTtlMs: 24 * 3_600_000, retentionMs: 29 * 86_400_000 };

/** When a batch created at `createdAt` expires. */
export function expiresAt(createdAt: number, policy: TimePolicy): number {
  return createdAt + policy.batchTtlMs;
}

/** When an ended batch created at `createdAt` is archived. */
export function archiveDueAt(createdAt: number, policy: TimePolicy): number {
  return createdAt + policy.retentionMs;
}
