import { type BatchRecord, requestCounts } from '../domain/batch.ts';
import { addUsage, type TokenUsage, ZERO_USAGE } from '../domain/token-usage.ts';

/** Cost in US dollars at batch prices and at standard prices. */
export interface CostFigures {
  batchUsd: number;
  standardUsd: number;
}

/** Token usage on the wire: the Messages API's own field names. */
export interface WireUsage {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_creation_1h_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface WireCost {
  currency: 'USD';
  /** What the succeeded requests cost at batch prices (half the standard price). */
  batch: number;
  /** What the same requests would have cost through the Messages API. */
  standard: number;
}

export function wireUsage(u: TokenUsage): WireUsage {
  return {
    requests: u.requests,
    input_tokens: u.inputTokens,
    output_tokens: u.outputTokens,
    cache_creation_input_tokens: u.cacheWriteTokens,
    cache_creation_1h_input_tokens: u.cacheWrite1hTokens,
    cache_read_input_tokens: u.cacheReadTokens,
  };
}

/** Dollars rounded to a millionth, so sums print without float noise. */
const usd = (v: number): number => Math.round(v * 1e6) / 1e6;

export function wireCost(c: CostFigures): WireCost {
  return { currency: 'USD', batch: usd(c.batchUsd), standard: usd(c.standardUsd) };
}

/** Usage and cost per model and in total. */
export function usageSummary(
  byModel: ReadonlyArray<{ model: string; usage: TokenUsage }>,
  costOf: (model: string, usage: TokenUsage) => CostFigures,
): {
  usage: WireUsage;
  cost: WireCost;
  by_model: Array<{ model: string; usage: WireUsage; cost: WireCost }>;
} {
  let total = ZERO_USAGE;
  const cost = { batchUsd: 0, standardUsd: 0 };
  const rows = byModel.map(({ model, usage }) => {
    const c = costOf(model, usage);
    total = addUsage(total, usage);
    cost.batchUsd += c.batchUsd;
    cost.standardUsd += c.standardUsd;
    return { model, usage: wireUsage(usage), cost: wireCost(c) };
  });
  return { usage: wireUsage(total), cost: wireCost(cost), by_model: rows };
}

/**
 * A batch's live progress (a Barge extension): outcome counts as they happen, whatever the contract's
 * `request_counts` shows; the average rate since creation and the time left at that rate; usage and cost so far.
 */
export function batchProgress(
  batch: BatchRecord,
  byModel: ReadonlyArray<{ model: string; usage: TokenUsage }>,
  costOf: (model: string, usage: TokenUsage) => CostFigures,
  now: number,
) {
  const counts = requestCounts(batch, true);
  const finished = batch.total - counts.processing;
  const elapsedMs = Math.max(0, (batch.endedAt ?? now) - batch.createdAt);
  const rate = elapsedMs > 0 ? finished / (elapsedMs / 1000) : 0;
  const eta = batch.status === 'ended' ? 0 : rate > 0 ? counts.processing / rate : null;
  return {
    id: batch.id,
    type: 'message_batch_progress' as const,
    processing_status: batch.status,
    total: batch.total,
    request_counts: counts,
    elapsed_seconds: Math.round(elapsedMs) / 1000,
    requests_per_second: Math.round(rate * 100) / 100,
    eta_seconds: eta === null ? null : Math.round(eta * 10) / 10,
    ...usageSummary(byModel, costOf),
  };
}
