import type { BatchRecord } from '../domain/batch.ts';
import type { VisibleBatchStatus } from '../domain/batch-status.ts';
import type { BatchId } from '../domain/ids.ts';
import type { TokenUsage } from '../domain/token-usage.ts';
import type { ApiKeyRecord, ModelUsage, RequestRecord, WorkerReport } from './store.ts';

/**
 * The row shapes both stores read (PostgreSQL's bigints parsed as numbers) and their mapping to the Store port's
 * records: one mapping, so the two stores cannot drift apart.
 */

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

/** An `api_keys` row without its secret's hash. */
export interface KeyRow {
  id: string;
  workspace: string;
  prefix: string;
  created_at: number;
  revoked_at: number | null;
}

export const KEY_COLUMNS = 'id, workspace, prefix, created_at, revoked_at';

export function toKeyRecord(r: KeyRow): ApiKeyRecord {
  return {
    id: r.id,
    workspace: r.workspace,
    prefix: r.prefix,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

/** A batch with queued work, as a claim reads it. */
export interface OpenBatchRow {
  seq: number;
  id: string;
  workspace: string;
  api_version: string;
  betas: string | null;
}

/** A `batch_usage` row (or a sum of them), as both stores return it. */
export interface UsageRow {
  model: string;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cache_write_tokens: number;
  cache_write_1h_tokens: number;
  cache_read_tokens: number;
}

export const USAGE_SUMS = `sum(requests) AS requests, sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens, sum(cache_write_tokens) AS cache_write_tokens,
  sum(cache_write_1h_tokens) AS cache_write_1h_tokens, sum(cache_read_tokens) AS cache_read_tokens`;

export function toModelUsage(r: UsageRow): ModelUsage {
  const usage: TokenUsage = {
    requests: Number(r.requests),
    inputTokens: Number(r.input_tokens),
    outputTokens: Number(r.output_tokens),
    cacheWriteTokens: Number(r.cache_write_tokens),
    cacheWrite1hTokens: Number(r.cache_write_1h_tokens),
    cacheReadTokens: Number(r.cache_read_tokens),
  };
  return { model: r.model, usage };
}

const STATES: RequestRecord['state'][] = ['queued', 'running', 'succeeded', 'errored', 'canceled', 'expired'];

/** A request row joined with its result line. */
export interface RequestRow {
  custom_id: string;
  state: number;
  attempts: number;
  last_error: string | null;
  line: string | null;
  params: Uint8Array | null;
}

export function toRequestRecord(r: RequestRow): RequestRecord {
  return {
    customId: r.custom_id,
    state: STATES[r.state] ?? 'queued',
    attempts: r.attempts,
    lastError: r.last_error,
    resultLine: r.line,
    params: r.params === null ? null : Buffer.from(r.params).toString('utf8'),
  };
}

/** A `workers` row: the report's counters and lanes are kept as one JSON text. */
export interface WorkerRow {
  owner: string;
  started_at: number;
  seen_at: number;
  state: string;
}

export function workerState(r: WorkerReport): string {
  return JSON.stringify({ concurrency: r.concurrency, running: r.running, held: r.held, lanes: r.lanes });
}

export function toWorkerReport(r: WorkerRow): WorkerReport {
  const s = JSON.parse(r.state) as Pick<WorkerReport, 'concurrency' | 'running' | 'held' | 'lanes'>;
  return { owner: r.owner, startedAt: Number(r.started_at), seenAt: Number(r.seen_at), ...s };
}

/** Worker rows unseen for this long are dropped by the sweeper. */
export const WORKER_ROW_TTL_MS = 86_400_000;
