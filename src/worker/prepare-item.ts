import type { ClaimedItem } from '../store/store.ts';
import { validateMessageParams } from '../wire/validate-message-params.ts';

const decoder = new TextDecoder('utf-8', { fatal: false });

/** A claimed item's params, parsed and checked, or the reason it cannot run (an `invalid_request_error`). */
export type Prepared = { ok: true; params: Record<string, unknown> } | { ok: false; message: string };

/**
 * Params are checked when a request is processed, not at create (as the hosted API does): one bad request becomes
 * its own `errored` result and never affects the rest of the batch.
 */
export function prepareItem(item: ClaimedItem): Prepared {
  let params: unknown;
  try {
    params = JSON.parse(decoder.decode(item.params));
  } catch {
    // Ingest validated the bytes, so this only happens if storage was tampered with.
    return { ok: false, message: 'params: invalid JSON' };
  }
  const invalid = validateMessageParams(params, item.apiVersion);
  if (invalid !== null) return { ok: false, message: invalid };
  return { ok: true, params: params as Record<string, unknown> };
}
