import type { BatchRecord } from '../domain/batch.ts';
import type { VisibleBatchStatus } from '../domain/batch-status.ts';
import type { BatchId } from '../domain/ids.ts';

/** A `batches` row as both stores return it (PostgreSQL's bigints parsed as numbers). */
export interface BatchRow {
  seq: number;
  id: string;
  workspace: string;
  status: string;
  total: number;
  pending: number;
  succeeded: number;
  errored: number;
  canceled: number;
  expired: number;
  created_at: number;
  expires_at: number;
  ended_at: number | null;
  cancel_initiated_at: number | null;
  archived_at: number | null;
  deleted_at: number | null;
  api_version: string;
  betas: string | null;
}

/** Maps a row to the domain record. */
export function toBatchRecord(row: BatchRow): BatchRecord {
  return {
    seq: row.seq,
    id: row.id as BatchId,
    workspace: row.workspace,
    status: row.status as VisibleBatchStatus,
    total: row.total,
    counts: { succeeded: row.succeeded, errored: row.errored, canceled: row.canceled, expired: row.expired },
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    endedAt: row.ended_at,
    cancelInitiatedAt: row.cancel_initiated_at,
    archivedAt: row.archived_at,
    apiVersion: row.api_version,
    betas: row.betas,
  };
}
