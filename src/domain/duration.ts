const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Parses `500ms`, `90s`, `10m`, `24h`, `29d` (or a bare number of milliseconds) into milliseconds. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const m = DURATION.exec(t);
  if (!m) throw new Error(`invalid duration "${text}": write it like 500ms, 90s, 10m, 24h or 29d`);
  return Math.round(Number(m[1]) * (UNITS[m[2]!] ?? 1));
}

/** A latency range in milliseconds; a single duration gives min = max. */
export interface DurationRange {
  minMs: number;
  maxMs: number;
}

/** Parses `200ms` or `50ms-500ms`. */
export function parseDurationRange(text: string): DurationRange {
  const parts = text.split('-');
  if (parts.length === 1) {
    const v = parseDuration(parts[0]!);
    return { minMs: v, maxMs: v };
  }
  if (parts.length !== 2)
    throw new Error(`invalid duration range "${text}": write it like 200ms or 50ms-500ms`);
  const minMs = parseDuration(parts[0]!);
  const maxMs = parseDuration(parts[1]!);
  if (maxMs < minMs) throw new Error(`invalid duration range "${text}": the upper bound is below the lower`);
  return { minMs, maxMs };
}

/** Formats milliseconds back into the largest exact unit (for help text and logs). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNITS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
