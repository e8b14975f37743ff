import { createRequire } from 'node:module';
import type cliProgressTypes from 'cli-progress';

// Loaded when a bar is first drawn on a terminal, not by every `barge` start.
const load = () => createRequire(import.meta.url)('cli-progress') as typeof cliProgressTypes;

/** A progress bar on stderr when it is a terminal; nothing otherwise (scripts, pipes, CI logs). */
export interface Bar {
  update(value: number, payload?: Record<string, string>): void;
  setTotal(total: number): void;
  stop(): void;
}

const NONE: Bar = { update() {}, setTotal() {}, stop() {} };

export function progressBar(format: string, total: number): Bar {
  if (!process.stderr.isTTY) return NONE;
  const cliProgress = load();
  const bar = new cliProgress.SingleBar(
    { format, stream: process.stderr, hideCursor: true, clearOnComplete: false, barsize: 30 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update: (v, payload) => bar.update(v, payload),
    setTotal: (t) => bar.setTotal(t),
    stop: () => bar.stop(),
  };
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n} B`;
}
