/** The API versions Barge speaks: the 0.x SDKs send the first, the 1.x SDKs the second. */
export const API_VERSIONS = ['2023-06-01', '2026-10-21'] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];

export function isApiVersion(v: string): v is ApiVersion {
  return (API_VERSIONS as readonly string[]).includes(v);
}

/** The beta marker older SDKs send on batch calls; accepted and not forwarded. */
export const BATCHES_BETA = 'message-batches-2024-09-24';

/** Splits `anthropic-beta` values (comma-separated, possibly repeated) into a clean list without the batches marker. */
export function parseBetas(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  const out = new Set<string>();
  for (const v of values) {
    for (const part of v.split(',')) {
      const b = part.trim();
      if (b && b !== BATCHES_BETA) out.add(b);
    }
  }
  return [...out];
}
