// Small numeric and formatting helpers for the bench report.

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export const MB = 1e6;
export const MiB = 1024 * 1024;

export const fmtMs = (ms: number) =>
  Number.isFinite(ms) ? `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)} ms` : 'n/a';
export const fmtS = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'n/a');
export const fmtMiB = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / MiB).toFixed(0)} MiB` : 'n/a');
export const fmtMBps = (bytes: number, ms: number) =>
  Number.isFinite(ms) && ms > 0 ? `${(bytes / MB / (ms / 1000)).toFixed(0)} MB/s` : 'n/a';
export const fmtRate = (n: number, ms: number, unit = 'req/s') =>
  Number.isFinite(ms) && ms > 0 ? `${Math.round(n / (ms / 1000)).toLocaleString('en-US')} ${unit}` : 'n/a';
export const fmtInt = (n: number) => n.toLocaleString('en-US');

/** A GitHub-flavoured markdown table with padded columns. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((x, c) => x.padEnd(widths[c]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
