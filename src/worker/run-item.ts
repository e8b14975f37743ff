import type { BackendOutcome, ModelBackend } from '../backends/model-backend.ts';
import type { ClaimedItem, Completion } from '../store/store.ts';
import { parseBetas } from '../wire/headers.ts';
import { erroredLine, succeededLine } from '../wire/result-line.ts';
import { validateMessageParams } from '../wire/validate-message-params.ts';

const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Runs one claimed item: validate its params (asynchronous validation, as the hosted API does), call the backend,
 * and turn the outcome into its final result line. Returns null when the attempt was aborted (shutdown), so the
 * caller returns the item to the queue instead of writing a result.
 */
export async function runItem(
  item: ClaimedItem,
  backend: ModelBackend,
  signal: AbortSignal,
): Promise<Completion | null> {
  const done = (outcome: Completion['outcome'], line: string): Completion => ({
    itemId: item.itemId,
    batchSeq: item.batchSeq,
    attempt: item.attempt,
    outcome,
    line,
  });
  let params: unknown;
  try {
    params = JSON.parse(decoder.decode(item.params));
  } catch {
    // Ingest validated the bytes, so this only happens if storage was tampered with.
    return done('errored', erroredLine(item.customId, 'invalid_request_error', 'params: invalid JSON'));
  }
  const invalid = validateMessageParams(params, item.apiVersion);
  if (invalid !== null) return done('errored', erroredLine(item.customId, 'invalid_request_error', invalid));

  let outcome: BackendOutcome;
  try {
    outcome = await backend.send({
      customId: item.customId,
      params: params as Record<string, unknown>,
      rawParams: item.params,
      apiVersion: item.apiVersion,
      betas: parseBetas(item.betas ?? undefined),
      attempt: item.attempt,
      signal,
    });
  } catch (err) {
    if (signal.aborted) return null;
    const message = err instanceof Error ? err.message : String(err);
    return done(
      'errored',
      erroredLine(item.customId, 'api_error', `backend ${backend.name} failed: ${message}`),
    );
  }
  if (signal.aborted) return null;
  if (outcome.type === 'succeeded') return done('succeeded', succeededLine(item.customId, outcome.message));
  return done('errored', erroredLine(item.customId, outcome.error.type, outcome.error.message));
}
