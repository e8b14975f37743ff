import type { BackendOutcome } from '../backends/model-backend.ts';
import type { LaneOutcome, OutcomeKind } from '../dispatch/lane-limiter.ts';

/** What the upstream's answer says about the lane: the limiter's input. */
export function laneOutcome(outcome: BackendOutcome, latencyMs: number): LaneOutcome {
  const u = outcome.upstream;
  const base = { latencyMs: u?.latencyMs ?? latencyMs, ...(u?.headers && { headers: u.headers }) };
  if (outcome.type === 'succeeded') {
    const usage = u?.usage ?? (outcome.message.usage as LaneOutcome['usage']);
    return { kind: 'success', ...base, ...(usage && { usage }) };
  }
  return {
    kind: kindOf(outcome),
    ...base,
    ...(outcome.retryAfterMs !== undefined && { retryAfterMs: outcome.retryAfterMs }),
  };
}

function kindOf(outcome: Extract<BackendOutcome, { type: 'errored' }>): OutcomeKind {
  const status = outcome.upstream?.status;
  if (status === 'timeout' || status === 'network') return status;
  if (typeof status === 'number') {
    if (status === 429) return 'rate_limited';
    if (status === 529 || status === 503) return 'overloaded';
    if (status === 408 || status === 504) return 'timeout';
    return status >= 500 ? 'server_error' : 'client_error';
  }
  // No HTTP exchange (the built-in model): the error type says it.
  switch (outcome.error.type) {
    case 'rate_limit_error':
      return 'rate_limited';
    case 'overloaded_error':
      return 'overloaded';
    case 'timeout_error':
      return 'timeout';
    case 'api_error':
      return 'server_error';
    default:
      return 'client_error';
  }
}
