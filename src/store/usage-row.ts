import type { TokenUsage } from '../domain/token-usage.ts';
import type { ModelUsage, RequestRecord, WorkerReport } from './store.ts';

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
