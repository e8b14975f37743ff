/** Token counts of succeeded requests, as totalled per batch and model. */
export interface TokenUsage {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  /** All prompt-cache writes (`cache_creation_input_tokens`), of which `cacheWrite1hTokens` used the 1-hour TTL. */
  cacheWriteTokens: number;
  cacheWrite1hTokens: number;
  cacheReadTokens: number;
}

export const ZERO_USAGE: TokenUsage = {
  requests: 0,
  inputTokens: 0,
  outputTokens: 0,
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
  cacheReadTokens: 0,
};

export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    requests: a.requests + b.requests,
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    cacheWrite1hTokens: a.cacheWrite1hTokens + b.cacheWrite1hTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
  };
}

const count = (v: unknown): number =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;

/** One request's usage from a Message's `usage` object (missing or odd fields count as 0). */
export function usageOfMessage(usage: unknown): TokenUsage {
  const u = (typeof usage === 'object' && usage !== null ? usage : {}) as Record<string, unknown>;
  const creation = (
    typeof u.cache_creation === 'object' && u.cache_creation !== null ? u.cache_creation : {}
  ) as Record<string, unknown>;
  const cacheWrite = count(u.cache_creation_input_tokens);
  return {
    requests: 1,
    inputTokens: count(u.input_tokens),
    outputTokens: count(u.output_tokens),
    cacheWriteTokens: cacheWrite,
    cacheWrite1hTokens: Math.min(cacheWrite, count(creation.ephemeral_1h_input_tokens)),
    cacheReadTokens: count(u.cache_read_input_tokens),
  };
}
