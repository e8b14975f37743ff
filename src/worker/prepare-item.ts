import type { ClaimedItem } from '../store/store.ts';
import { validateMessageParams } from '../wire/validate-message-params.ts';

const decoder = new TextDecoder('utf-8', { fatal: false });

/** A claimed item's params, parsed and checked, or the reason it cannot run (an `invalid_request_error`). */
export type Prepared = { ok: true; params: Record<string, unknown> } | { ok: false; message: string };

/** A claimed item's params, parsed (ingest checked the syntax, so this fails only on tampered storage). */
export function parseParams(item: ClaimedItem): unknown {
  try {
    return JSON.parse(decoder.decode(item.params));
  } catch {
    return undefined;
  }
}

/**
 * Params are checked when a request is processed, not at create (as the hosted API does): one bad request becomes
 * its own `errored` result and never affects the rest of the batch. `passThroughUnknown` is the backend's choice
 * (see `validateMessageParams`).
 */
export function checkParams(params: unknown, apiVersion: string, passThroughUnknown: boolean): Prepared {
  if (params === undefined) return { ok: false, message: 'params: invalid JSON' };
  const invalid = validateMessageParams(params, apiVersion, { passThroughUnknown });
  if (invalid !== null) return { ok: false, message: invalid };
  return { ok: true, params: params as Record<string, unknown> };
}
